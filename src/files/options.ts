/** Checks of the options the writer and the readers of this folder share. */
import { describe } from '../shared/validate.js';

export function encodingOption(where: string, value: unknown): BufferEncoding {
  if (value === undefined) return 'utf8';
  if (typeof value !== 'string') throw new TypeError(`${where}: option "encoding" must be a Buffer encoding such as 'utf8', got ${describe(value)}`);
  if (!Buffer.isEncoding(value)) throw new RangeError(`${where}: option "encoding" must be a Buffer encoding such as 'utf8', got ${describe(value)}`);
  return value;
}


export function modeOption(where: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number') throw new TypeError(`${where}: option "mode" must be an integer from 0 to 0o7777, got ${describe(value)}`);
  if (!Number.isInteger(value) || value < 0 || value > 0o7777) {
    throw new RangeError(`${where}: option "mode" must be an integer from 0 to 0o7777, got ${describe(value)}`);
  }
  return value;
}

