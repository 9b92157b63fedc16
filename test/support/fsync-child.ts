/**
 * Run as uid 65534 by the write-only directory test: writes `process.argv[2]` with atomicWriteFile
 * and prints the result and the write event's directory-sync fields as JSON.
 */
import { subscribe } from 'node:diagnostics_channel';
import { atomicWriteFile, type AtomicWriteEvent } from 'ridethrough/files';

let event: AtomicWriteEvent | undefined;
subscribe('ridethrough:files:write', (message) => {
  event = message as AtomicWriteEvent;
});
const result = await atomicWriteFile(process.argv[2]!, 'data');
const code = (event?.directorySyncError as NodeJS.ErrnoException | undefined)?.code;
console.log(JSON.stringify({ result, event: { directorySynced: event?.directorySynced, code, frozen: Object.isFrozen(event) } }));
