import { sniffImageType } from '../../src/images/inspect';
import { sniffMediaType } from '../../src/images/sniff';
import { makeGif, makeJpeg, makePng, makeTextFile, makeWebp } from '../fixtures/images';

const bytes = (...parts: Array<string | number[]>): Buffer =>
  Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'latin1') : Buffer.from(part))));

describe('sniffMediaType', () => {
  const size = { width: 16, height: 16 };

  it.each([
    ['image/jpeg', () => makeJpeg(size)],
    ['image/png', () => makePng(size)],
    ['image/webp', () => makeWebp(size)],
    ['image/gif', () => makeGif(size)],
  ])('recognises %s made by sharp', async (mediaType, make) => {
    expect(sniffMediaType(await make())).toBe(mediaType);
  });

  it.each([
    ['audio/wav', bytes('RIFF', [0x24, 0, 0, 0], 'WAVEfmt ')],
    ['audio/mpeg', bytes('ID3', [4, 0, 0, 0, 0, 0, 0])],
    ['audio/mpeg', bytes([0xff, 0xfb, 0x90, 0x64, 0, 0])],
    ['audio/flac', bytes('fLaC', [0, 0, 0, 0x22])],
    ['audio/ogg', bytes('OggS', [0, 2, 0, 0])],
    ['video/mp4', bytes([0, 0, 0, 0x18], 'ftypisom', [0, 0, 2, 0])],
    ['video/mp4', bytes([0, 0, 0, 0x1c], 'ftypM4V ', [0, 0, 0, 1])],
    ['video/webm', bytes([0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81])],
  ])('recognises %s from its magic bytes', (mediaType, buf) => {
    expect(sniffMediaType(buf)).toBe(mediaType);
  });

  it.each([
    ['plain text', makeTextFile()],
    ['an empty buffer', Buffer.alloc(0)],
    ['HEIC (an ftyp image, not video)', bytes([0, 0, 0, 0x18], 'ftypheic', [0, 0, 0, 0])],
    ['an invalid MPEG frame header', bytes([0xff, 0xff, 0xff, 0xff])],
    ['a RIFF of another form', bytes('RIFF', [0, 0, 0, 0], 'AVI ')],
  ])('returns null for %s', (_name, buf) => {
    expect(sniffMediaType(buf)).toBeNull();
  });
});

describe('sniffImageType', () => {
  it('names the training formats and nothing else', async () => {
    const size = { width: 16, height: 16 };
    expect(sniffImageType(await makeJpeg(size))).toBe('jpeg');
    expect(sniffImageType(await makePng(size))).toBe('png');
    expect(sniffImageType(await makeWebp(size))).toBe('webp');
    expect(sniffImageType(await makeGif(size))).toBeNull();
    expect(sniffImageType(makeTextFile())).toBeNull();
  });
});
