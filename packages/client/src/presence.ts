/**
 * `@meridian/client/presence`: presence for the provider, with y-protocols'
 * Awareness (what editor bindings such as y-prosemirror and y-codemirror take):
 * `new MeridianProvider({ …, presence })`, then `provider.awareness`. Without it
 * the provider has no awareness (`provider.awareness` is null; awareness messages
 * from the relay are ignored) and keeps y-protocols' Awareness out of the bundle.
 */
import { Awareness, applyAwarenessUpdate, encodeAwarenessUpdate } from 'y-protocols/awareness'
import type { Presence } from './presence-engine.js'

export type { Presence } from './presence-engine.js'

export const presence: Presence = {
  create: (doc) => new Awareness(doc),
  encode: encodeAwarenessUpdate,
  apply: applyAwarenessUpdate
}
