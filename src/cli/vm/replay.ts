/** How much printed output is remembered to recognise a replay after a reconnect. */
export const HISTORY_BYTES = 4096;
const MARKER_BYTES = 512;

/**
 * Pure: the part of a launcher's replay (its recent output, sent on attach) not printed yet.
 * After a reconnect to the same launcher the replay repeats what was already shown; the
 * last bytes shown are looked for in it and only what follows them is new. After a
 * migration the new launcher's replay does not contain them, and all of it is new.
 */
export function unseen(history: Buffer, replay: Buffer): Buffer {
  if (history.length === 0) return replay;
  const marker = history.subarray(Math.max(0, history.length - MARKER_BYTES));
  const at = replay.lastIndexOf(marker);
  if (at >= 0) return replay.subarray(at + marker.length);
  // The replay may start inside the marker: find the longest prefix of the replay that
  // ends the history.
  for (let k = Math.min(marker.length - 1, replay.length); k > 0; k--) {
    if (history.subarray(history.length - k).equals(replay.subarray(0, k)))
      return replay.subarray(k);
  }
  return replay;
}

/** Pure: keep the last HISTORY_BYTES of what was printed. */
export function remember(history: Buffer, chunk: Buffer): Buffer {
  const joined = Buffer.concat([history, chunk]);
  return joined.length <= HISTORY_BYTES ? joined : joined.subarray(joined.length - HISTORY_BYTES);
}
