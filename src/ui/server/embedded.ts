/**
 * The built app's files inside the single-file kubectl plugin (which has no dist/ beside
 * it): scripts/build-cli.ts replaces this module with one holding them, base64 per path.
 * In every other build it is empty and the files are read from dist/ui/public.
 */
export const EMBEDDED_ASSETS: Readonly<Record<string, string>> | undefined = undefined;
