// Types of choose-entry-point.js (plain JavaScript, so that the `clawbot` command starts without a TypeScript loader).

/** Written by `npm run build` after tsc has finished. */
export declare const buildMarker: string;

/** The module exporting `main(argv)` that `clawbot` runs, and whether it needs tsx; throws when there is nothing to run. */
export declare function chooseEntryPoint(packageRoot: string): { kind: "dist" | "source"; url: string };
