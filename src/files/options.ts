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
  if (typeof value !== 'number') throw new TypeError(`${where}: option "mode" must be an integer from 0 to 0o777, got ${describe(value)}`);
  if (!Number.isInteger(value) || value < 0 || value > 0o777) {
    throw new RangeError(`${where}: option "mode" must be an integer from 0 to 0o777, got ${describe(value)}${octalHint(value)}`);
  }
  return value;
}

/** `mode: 600` (decimal) is the usual slip for `0o600`. */
function octalHint(value: number): string {
  if (!Number.isInteger(value) || value < 0) return '';
  const digits = String(value);
  if (/^[0-7]{3,4}$/.test(digits) && Number.parseInt(digits, 8) <= 0o777) return ` (0o${value.toString(8)}); did you mean 0o${digits.replace(/^0/, '')}?`;
  return ` (0o${value.toString(8)}); write permission bits as an octal literal such as 0o600`;
}
