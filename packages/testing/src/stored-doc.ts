import * as Y from 'yjs'
import { docFromStored, type StorageAdapter } from '@meridian/storage'

/** A document as a storage adapter holds it (snapshot, then the updates after it). Empty when absent. */
export async function loadStoredDoc(storage: StorageAdapter, docName: string): Promise<Y.Doc> {
  return docFromStored(await storage.load(docName))
}
