// `fake-indexeddb/auto` installs IndexedDB globals as a side effect and ships no types.
declare module 'fake-indexeddb/auto' {}
