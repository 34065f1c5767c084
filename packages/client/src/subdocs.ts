import type * as Y from 'yjs'
import { MeridianError, isMeridianError } from './errors.js'

/** The relay document of the Yjs subdocument `guid` of document `parent`: grants on `parent/**` cover it. */
export const subdocName = (parent: string, guid: string): string => `${parent}/subdocs/${guid}`

/** What the watcher needs of the client. */
export interface SubdocHost {
  /** Opens `doc` as relay document `name` with its own provider (and watches its own subdocuments). */
  open(name: string, doc: Y.Doc): void
  /** Closes it; its store keeps what the relay has not acknowledged. */
  close(name: string): Promise<void>
  onError(error: MeridianError): void
}

interface SubdocsEvent {
  added: Set<Y.Doc>
  removed: Set<Y.Doc>
  loaded: Set<Y.Doc>
}

/**
 * Keeps a document's loaded subdocuments open through the client: a subdocument
 * the app loads (`subdoc.load()`, or every one with `autoLoad`) is opened as
 * `${parent}/subdocs/${guid}`; one removed from the parent, or destroyed to
 * unload it (Yjs then puts an unloaded copy in its place), is closed. Closing
 * never drops a write: the provider flushes it to its store, where it stays
 * pending until a relay acknowledges it, and loading the subdocument again
 * sends it. A subdocument's own subdocuments follow the same rule (the host
 * opens each one with a watcher of its own).
 */
export class SubdocWatcher {
  /** Open subdocuments by relay name. */
  private readonly open = new Map<string, Y.Doc>()
  private stopped = false

  constructor(
    private readonly parentName: string,
    private readonly doc: Y.Doc,
    private readonly autoLoad: boolean,
    private readonly host: SubdocHost
  ) {
    doc.on('subdocs', this.onSubdocs)
    for (const subdoc of doc.getSubdocs()) this.consider(subdoc)
  }

  /** Stops watching and closes every subdocument it opened. */
  destroy(): Promise<void> {
    this.stopped = true
    this.doc.off('subdocs', this.onSubdocs)
    const names = [...this.open.keys()]
    this.open.clear()
    return Promise.all(names.map((name) => this.host.close(name))).then(() => undefined)
  }

  private readonly onSubdocs = ({ added, removed, loaded }: SubdocsEvent): void => {
    if (this.stopped) return
    // Removed first: unloading a subdocument removes it and adds its unloaded copy (same guid) at once.
    for (const subdoc of removed) this.unload(subdoc)
    for (const subdoc of added) this.consider(subdoc)
    for (const subdoc of loaded) this.load(subdoc)
  }

  private consider(subdoc: Y.Doc): void {
    if (subdoc.shouldLoad) this.load(subdoc)
    // load() reports the subdocument as loaded in a 'subdocs' event of its own.
    else if (this.autoLoad) subdoc.load()
  }

  private load(subdoc: Y.Doc): void {
    const name = subdocName(this.parentName, subdoc.guid)
    if (this.stopped || this.open.has(name)) return
    try {
      this.host.open(name, subdoc)
      this.open.set(name, subdoc)
    } catch (cause) {
      this.host.onError(isMeridianError(cause) ? cause : new MeridianError('ERR_OPTIONS', `subdocument ${name}`, { cause }))
    }
  }

  private unload(subdoc: Y.Doc): void {
    const name = subdocName(this.parentName, subdoc.guid)
    // Another copy of the same guid (the unloaded one Yjs put in place) is not what is open.
    if (this.open.get(name) !== subdoc) return
    this.open.delete(name)
    this.host.close(name).catch((cause: unknown) => this.host.onError(new MeridianError('ERR_PERSISTENCE', `closing ${name}`, { cause })))
  }
}
