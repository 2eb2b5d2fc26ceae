// The line that says what a pulled model's SHA-256 was checked against, and nothing more than that.
import type { PullModelResult } from "../models/model-downloader.js";

/** `givenBy` names where an expected hash came from ("--sha256", "the pinned hash of the default model"). */
export function digestLine(result: PullModelResult, givenBy = "--sha256"): string {
  const sha256 = result.sha256 ?? "(not recorded)";
  if (!result.downloaded) {
    return `Already in the cache: ${result.path}, SHA-256 ${sha256}${result.checkedAgainst === "given" ? ` (matches ${givenBy})` : " (recorded when it was added)"}`;
  }
  switch (result.checkedAgainst) {
    case "given":
      return `Verified SHA-256 ${sha256} (matches ${givenBy})`;
    case "server":
      return `Verified SHA-256 ${sha256} (matches the digest the server published)`;
    default:
      return (
        `SHA-256 ${sha256} (computed from the download; not checked against anything: no --sha256 was given ` +
        `and the server published no digest; compare it with the publisher's)`
      );
  }
}
