/** File type sniffing by leading "magic" bytes. */

interface Signature<T> {
  type: T;
  offset: number;
  bytes: string | readonly number[];
}

function matches(buf: Buffer, { offset, bytes }: Signature<unknown>): boolean {
  const expected = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : Buffer.from(bytes);
  return buf.length >= offset + expected.length && buf.subarray(offset, offset + expected.length).equals(expected);
}

function sniff<T>(buf: Buffer, signatures: readonly Signature<T>[][]): T | null {
  const found = signatures.find((all) => all.every((s) => matches(buf, s)));
  return found?.[0]?.type ?? null;
}

export type ImageType = 'jpeg' | 'png' | 'gif' | 'webp' | 'bmp' | 'tiff' | 'heic' | 'avif';

const IMAGE_SIGNATURES: readonly Signature<ImageType>[][] = [
  [{ type: 'jpeg', offset: 0, bytes: [0xff, 0xd8, 0xff] }],
  [{ type: 'png', offset: 0, bytes: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] }],
  [{ type: 'gif', offset: 0, bytes: 'GIF8' }],
  [{ type: 'webp', offset: 0, bytes: 'RIFF' }, { type: 'webp', offset: 8, bytes: 'WEBP' }],
  [{ type: 'bmp', offset: 0, bytes: 'BM' }],
  [{ type: 'tiff', offset: 0, bytes: 'II*\0' }],
  [{ type: 'tiff', offset: 0, bytes: 'MM\0*' }],
  ...['heic', 'heix', 'mif1', 'msf1'].map((brand) => [
    { type: 'heic' as const, offset: 4, bytes: `ftyp${brand}` },
  ]),
  ...['avif', 'avis'].map((brand) => [{ type: 'avif' as const, offset: 4, bytes: `ftyp${brand}` }]),
];

export function detectImageType(buf: Buffer): ImageType | null {
  return sniff(buf, IMAGE_SIGNATURES);
}

export type AudioType = 'wav' | 'mp3' | 'flac' | 'ogg';

const AUDIO_SIGNATURES: readonly Signature<AudioType>[][] = [
  [{ type: 'wav', offset: 0, bytes: 'RIFF' }, { type: 'wav', offset: 8, bytes: 'WAVE' }],
  [{ type: 'mp3', offset: 0, bytes: 'ID3' }],
  [{ type: 'flac', offset: 0, bytes: 'fLaC' }],
  [{ type: 'ogg', offset: 0, bytes: 'OggS' }],
];

/** MPEG audio frame sync: 11 set bits (an MP3 without an ID3 tag). */
function isMpegFrame(buf: Buffer): boolean {
  return buf.length >= 2 && buf[0] === 0xff && ((buf[1] ?? 0) & 0xe0) === 0xe0;
}

export function detectAudioType(buf: Buffer): AudioType | null {
  return sniff(buf, AUDIO_SIGNATURES) ?? (isMpegFrame(buf) ? 'mp3' : null);
}
