/**
 * Numeric identifiers on the wire. Types 0–3 are the y-websocket protocol and
 * must never change meaning; Meridian's own messages live under type 100 so a
 * stock y-websocket peer, which ignores or rejects unknown types, never
 * mistakes one of them for something it knows. See PROTOCOL.md.
 */

/** Top-level message types: the first varUint of every message. */
export const MESSAGE_SYNC = 0
export const MESSAGE_AWARENESS = 1
export const MESSAGE_AUTH = 2
export const MESSAGE_QUERY_AWARENESS = 3
export const MESSAGE_MERIDIAN = 100

/** Subtypes of MESSAGE_SYNC, as y-protocols/sync numbers them. */
export const SYNC_STEP1 = 0
export const SYNC_STEP2 = 1
export const SYNC_UPDATE = 2

/** Subtypes of MESSAGE_AUTH, as y-protocols/auth numbers them. */
export const AUTH_PERMISSION_DENIED = 0

/** Subtypes of MESSAGE_MERIDIAN. */
export const MERIDIAN_HELLO = 0
export const MERIDIAN_ACK = 1
export const MERIDIAN_ERROR = 2
/** Client → relay: a bearer token (JWT), when it is not in the URL. See PROTOCOL.md, "auth-token". */
export const MERIDIAN_AUTH = 3
/** Relay → client: staleness per region, home region, read-only. See status.ts. */
export const MERIDIAN_STATUS = 4
/** Relay → client: how many other regions hold the connection's writes. See status.ts. */
export const MERIDIAN_REPLICATED = 5
/** Client → relay: a digest of the client's deletes of structs both sides hold. See ds-digest.ts. */
export const MERIDIAN_DS_DIGEST = 6
/** Relay → client: whether the digests matched and, if not, the relay's deletes. See ds-digest.ts. */
export const MERIDIAN_DS_REPLY = 7
/** Client → relay: which delete buckets differ (the second round). See ds-digest.ts. */
export const MERIDIAN_DS_RANGES = 8
/** Multiplexing (FEATURE_MULTIPLEX, see mux.ts): client → relay, open a document on the socket. */
export const MERIDIAN_DOC_OPEN = 9
/** Client → relay: close a document on the socket. */
export const MERIDIAN_DOC_CLOSE = 10
/** Relay → client: a document on the socket is closed (refused, ended, or closed on request). */
export const MERIDIAN_DOC_CLOSED = 11
/** Both ways: one document's message. */
export const MERIDIAN_DOC_FRAME = 12
/** Both ways: several messages in one frame. */
export const MERIDIAN_BATCH = 13

/** Version of the Meridian extension announced in HELLO. */
export const PROTOCOL_VERSION = 1

/**
 * Feature bits announced in HELLO. A peer uses a feature only if both sides
 * set its bit, so new bits can be added without bumping PROTOCOL_VERSION.
 */
export const FEATURE_ACKS = 1
/** The relay sends `status` after every sync round and on change. */
export const FEATURE_STATUS = 2
/** The relay sends `replicated` as other regions commit this connection's writes. */
export const FEATURE_REPLICATION = 4
/**
 * Step 2 in both directions leaves out the deletes of structs the peer already
 * holds; one `ds-digest` / `ds-reply` exchange checks them instead.
 */
export const FEATURE_DS_DIGEST = 8
/**
 * The socket carries many documents (mux.ts). Negotiated by the connection's
 * own HELLO on `/_meridian/mux`; each document then has its own HELLO inside its frames.
 */
export const FEATURE_MULTIPLEX = 16
