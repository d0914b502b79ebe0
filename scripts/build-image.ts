/**
 * `npm run image`: builds the product image from the Dockerfile with buildah and writes it as
 * a docker-archive into the cache (src/local/image). Reuses the archive when no input changed;
 * `--force` rebuilds. Prints the reference and the archive path.
 */
import { statSync } from "node:fs";
import { buildProductImage, productImage } from "../src/local/image/index.js";
import { createProgress } from "../src/local/progress.js";

const force = process.argv.includes("--force");
const before = productImage();
if (before.built && !force) {
  console.log(`image up to date: ${before.ref} (${before.archive})`);
} else {
  const started = Date.now();
  const image = await buildProductImage({ progress: createProgress(), force });
  const mb = (statSync(image.archive).size / 1e6).toFixed(0);
  console.log(
    `image built: ${image.ref} in ${((Date.now() - started) / 1000).toFixed(0)} s, ${mb} MB (${image.archive})`,
  );
}
