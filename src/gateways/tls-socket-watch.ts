// A TLS port's handshakes: finished ones are handed on, refused client certificates are reported as refused credentials.
import type http from "node:http";
import type { TLSSocket } from "node:tls";
import type { Logger } from "../logging/logger.js";
import type { GatewayEvents } from "./gateway-events.js";

/**
 * With client certificates `optional`, a socket that sent a certificate tls.ca did not sign is closed (`require`
 * refuses it in the handshake itself); either is reported through `authFailed`. Other failed handshakes (garbage,
 * plain HTTP, a client that does not trust us) are logged at debug and the socket is destroyed; the node keeps serving.
 */
export function watchTlsSockets(server: http.Server, options: { logger: Logger; events: () => GatewayEvents; secured: (socket: TLSSocket) => void }): void {
  server.on("secureConnection", (socket: TLSSocket) => {
    const certificate = socket.getPeerCertificate();
    if (!socket.authorized && certificate && Object.keys(certificate).length > 0) {
      options.events().authFailed("unauthorized", `client certificate refused: ${String(socket.authorizationError)}`, socket.remoteAddress);
      return void socket.destroy();
    }
    options.secured(socket);
  });
  server.on("tlsClientError", (error: NodeJS.ErrnoException, socket: TLSSocket) => {
    options.logger.debug({ err: error, remote: socket.remoteAddress }, "TLS handshake failed");
    if (isCertificateError(error)) options.events().authFailed("unauthorized", `client certificate refused: ${error.code ?? error.message}`, socket.remoteAddress);
    socket.destroy();
  });
}

/** A handshake refused for the client's certificate (none sent where one is required, or one tls.ca did not sign). */
function isCertificateError(error: NodeJS.ErrnoException): boolean {
  return /PEER_DID_NOT_RETURN_A_CERTIFICATE|CERTIFICATE_VERIFY_FAILED|CERTIFICATE_REQUIRED/i.test(`${error.code ?? ""} ${error.message}`);
}
