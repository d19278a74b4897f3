/**
 * Media type detection from magic bytes: what a file really is, whatever its name or declared type.
 * Pass at least the first SNIFF_LENGTH bytes.
 */
export const SNIFF_LENGTH = 16;

export type SniffedMediaType =
  | 'image/jpeg'
  | 'image/png'
  | 'image/webp'
  | 'image/gif'
  | 'audio/wav'
  | 'audio/mpeg'
  | 'audio/flac'
  | 'audio/ogg'
  | 'video/mp4'
  | 'video/webm';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const EBML_SIGNATURE = Buffer.from([0x1a, 0x45, 0xdf, 0xa3]);
/** ISO base media brands that are still images (AVIF, HEIC/HEIF), not video. */
const IMAGE_FTYP_BRANDS = new Set(['avif', 'avis', 'heic', 'heix', 'heim', 'heis', 'hevc', 'mif1', 'msf1']);

function startsWith(buf: Buffer, prefix: Buffer | string, offset = 0): boolean {
  const bytes = typeof prefix === 'string' ? Buffer.from(prefix, 'latin1') : prefix;
  return buf.length >= offset + bytes.length && buf.subarray(offset, offset + bytes.length).equals(bytes);
}

function riffForm(buf: Buffer): string | null {
  return startsWith(buf, 'RIFF') && buf.length >= 12 ? buf.toString('latin1', 8, 12) : null;
}

function ftypBrand(buf: Buffer): string | null {
  return startsWith(buf, 'ftyp', 4) && buf.length >= 12 ? buf.toString('latin1', 8, 12) : null;
}

/** An MPEG audio frame header: 11 sync bits, then a valid version, layer, bitrate and sample rate. */
function isMpegAudioFrame(buf: Buffer): boolean {
  const [b0, b1, b2] = buf;
  if (b0 !== 0xff || b1 === undefined || b2 === undefined || (b1 & 0xe0) !== 0xe0) return false;
  const version = (b1 >> 3) & 0b11;
  const layer = (b1 >> 1) & 0b11;
  const bitrate = b2 >> 4;
  const sampleRate = (b2 >> 2) & 0b11;
  return version !== 0b01 && layer !== 0b00 && bitrate !== 0b1111 && sampleRate !== 0b11;
}

export function sniffMediaType(buf: Buffer): SniffedMediaType | null {
  if (startsWith(buf, Buffer.from([0xff, 0xd8, 0xff]))) return 'image/jpeg';
  if (startsWith(buf, PNG_SIGNATURE)) return 'image/png';
  if (startsWith(buf, 'GIF87a') || startsWith(buf, 'GIF89a')) return 'image/gif';
  const form = riffForm(buf);
  if (form === 'WEBP') return 'image/webp';
  if (form === 'WAVE') return 'audio/wav';
  if (startsWith(buf, 'fLaC')) return 'audio/flac';
  if (startsWith(buf, 'OggS')) return 'audio/ogg';
  if (startsWith(buf, EBML_SIGNATURE)) return 'video/webm';
  const brand = ftypBrand(buf);
  if (brand !== null) return IMAGE_FTYP_BRANDS.has(brand) ? null : 'video/mp4';
  if (startsWith(buf, 'ID3') || isMpegAudioFrame(buf)) return 'audio/mpeg';
  return null;
}
