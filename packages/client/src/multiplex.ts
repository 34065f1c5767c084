/**
 * `@meridian/client/multiplex`: many documents over one connection (FEATURE_MULTIPLEX).
 * `new MeridianClient({ urls, params: { token } })`, then `client.open(docName)` for each
 * document: the usual `MeridianProvider` (durability, policy, presence…), all of them riding
 * one WebSocket to `${url}/_meridian/mux`, with one reconnect and one batched handshake for
 * all. Yjs subdocuments: `client.open(docName, { subdocs: { autoLoad } })`.
 */
export { MeridianClient, type MeridianClientEvents } from './mux-client.js'
export { DEFAULT_CLIENT_OPTIONS, type DocumentOptions, type MeridianClientOptions, type OpenOptions, type SubdocsOptions } from './mux-options.js'
export type { ClientStatus } from './shared-socket.js'
export { subdocName } from './subdocs.js'
