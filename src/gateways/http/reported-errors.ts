// Errors the gateway's observers already know of (the pipeline's, refused credentials): not counted again as refused requests.
const reported = new WeakSet<object>();

/** Marks an error as reported elsewhere (a request observer saw it, or the authenticator's authFailed); returns it, to throw. */
export function alreadyReported<Thrown>(error: Thrown): Thrown {
  if (typeof error === "object" && error !== null) reported.add(error);
  return error;
}

/** Whether the error was marked by alreadyReported. */
export function isReported(error: unknown): boolean {
  return typeof error === "object" && error !== null && reported.has(error);
}
