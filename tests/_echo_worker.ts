/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
/** A user's module worker: answers every message. */
self.onmessage = (event: MessageEvent) => self.postMessage(`echo ${event.data}`);
