import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readAudioDurationMs } from '../../src/uploads/audio-duration';

/** Real files from real encoders, 2.5 s each (test/fixtures/audio/README.md says how they were made). */
const FIXTURES = path.join(__dirname, '../fixtures/audio');
const fixture = (name: string) => readFile(path.join(FIXTURES, name));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'audio-duration-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

let counter = 0;
/** The duration the reader finds in these bytes, written to a file as an upload is. */
async function durationOf(bytes: Buffer, contentType: string): Promise<number | null> {
  const file = path.join(dir, `file-${counter++}`);
  await writeFile(file, bytes);
  return readAudioDurationMs(file, contentType);
}

// ---------------------------------------------------------------------------------------------
// Builders

function chunk(id: string, body: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.write(id, 0, 'latin1');
  header.writeUInt32LE(body.length, 4);
  return Buffer.concat([header, body, body.length % 2 ? Buffer.alloc(1) : Buffer.alloc(0)]);
}

function fmt(o: { encoding: number; channels: number; sampleRate: number; bits: number; blockAlign?: number; byteRate?: number }): Buffer {
  const blockAlign = o.blockAlign ?? (o.channels * o.bits) / 8;
  const body = Buffer.alloc(16);
  body.writeUInt16LE(o.encoding, 0);
  body.writeUInt16LE(o.channels, 2);
  body.writeUInt32LE(o.sampleRate, 4);
  body.writeUInt32LE(o.byteRate ?? o.sampleRate * blockAlign, 8);
  body.writeUInt16LE(blockAlign, 12);
  body.writeUInt16LE(o.bits, 14);
  return chunk('fmt ', body);
}

function riff(...chunks: Buffer[]): Buffer {
  const body = Buffer.concat([Buffer.from('WAVE', 'latin1'), ...chunks]);
  const header = Buffer.alloc(8);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(body.length, 4);
  return Buffer.concat([header, body]);
}

/** One Ogg page (the reader checks no CRC, so it is left 0). */
function oggPage(o: { serial: number; sequence: number; granule: bigint; bos?: boolean; body: Buffer }): Buffer {
  const lacing: number[] = [];
  for (let left = o.body.length; ; left -= 255) {
    lacing.push(Math.min(left, 255));
    if (left < 255) break;
  }
  const header = Buffer.alloc(27);
  header.write('OggS', 0, 'latin1');
  header[5] = o.bos ? 0x02 : 0;
  header.writeBigInt64LE(o.granule, 6);
  header.writeUInt32LE(o.serial, 14);
  header.writeUInt32LE(o.sequence, 18);
  header[26] = lacing.length;
  return Buffer.concat([header, Buffer.from(lacing), o.body]);
}

function opusHead(channels: number, preSkip: number): Buffer {
  const head = Buffer.alloc(19);
  head.write('OpusHead', 0, 'latin1');
  head[8] = 1;
  head[9] = channels;
  head.writeUInt16LE(preSkip, 10);
  head.writeUInt32LE(16_000, 12);
  return head;
}

/** An Ogg Opus stream of `pages` audio pages of `pageBytes` noise each, its last page claiming `lastGranule`. */
function syntheticOpus(o: { pages: number; pageBytes: number; lastGranule: bigint; preSkip: number }): Buffer {
  const serial = 0x1234;
  const pages = [
    oggPage({ serial, sequence: 0, granule: 0n, bos: true, body: opusHead(1, o.preSkip) }),
    oggPage({ serial, sequence: 1, granule: 0n, body: Buffer.from('OpusTags\0\0\0\0\0\0\0\0', 'latin1') }),
  ];
  for (let i = 1; i <= o.pages; i++) {
    const granule = i === o.pages ? o.lastGranule : (o.lastGranule * BigInt(i)) / BigInt(o.pages);
    pages.push(oggPage({ serial, sequence: i + 1, granule, body: randomBytes(o.pageBytes) }));
  }
  return Buffer.concat(pages);
}

// ---------------------------------------------------------------------------------------------

describe('reading the duration of real encoded files', () => {
  it.each([
    ['mono16k-cbr64.mp3', 'audio/mpeg', 2500, 'a CBR MP3 with an Info tag: its frames, less the encoder delay and padding LAME recorded'],
    ['stereo44k-vbr-id3.mp3', 'audio/mpeg', 2500, 'a VBR MP3 after an ID3v2 tag, with a Xing header'],
    ['mono16k-no-info-tag.mp3', 'audio/mpeg', 2592, 'an MP3 with no tag at all: 72 frames of 576 samples at 16 kHz, padding included'],
    ['mono16k.flac', 'audio/flac', 2500, 'a FLAC file: STREAMINFO'],
    ['stereo44k-vorbis.ogg', 'audio/ogg', 2500, 'Ogg Vorbis: the last granule position'],
    ['mono16k.opus', 'audio/ogg', 2500, 'Ogg Opus: the last granule position less the pre-skip, at 48 kHz'],
  ])('when the file is %s (%s), then %i ms: %s', async (name, type, expected) => {
    expect(await durationOf(await fixture(name), type)).toBe(expected);
  });

  it('when the bytes are not of an audio type the reader knows, then null', async () => {
    expect(await durationOf(await fixture('mono16k.flac'), 'image/png')).toBeNull();
    expect(await durationOf(await fixture('mono16k.flac'), 'audio/ogg')).toBeNull();
  });
});

describe('WAV', () => {
  it('when a 30 s 16-bit stereo PCM file has a LIST chunk of odd size before its data, then 30 000 ms', async () => {
    const wav = riff(fmt({ encoding: 1, channels: 2, sampleRate: 44_100, bits: 16 }), chunk('LIST', Buffer.from('INFOISFT\x05\0\0\0test\0', 'latin1')), chunk('data', Buffer.alloc(30 * 44_100 * 4)));
    expect(await durationOf(wav, 'audio/wav')).toBe(30_000);
  });

  it('when the samples are 32-bit float, then blocks over the rate', async () => {
    expect(await durationOf(riff(fmt({ encoding: 3, channels: 1, sampleRate: 48_000, bits: 32 }), chunk('data', Buffer.alloc(72_000 * 4))), 'audio/wav')).toBe(1500);
  });

  it('when a writer that could not seek left the data size at 0xFFFFFFFF, then the data runs to the end of the file', async () => {
    const wav = riff(fmt({ encoding: 1, channels: 1, sampleRate: 8000, bits: 16 }), chunk('data', Buffer.alloc(16_000)));
    wav.writeUInt32LE(0xffffffff, wav.length - 16_000 - 4);
    expect(await durationOf(wav, 'audio/wav')).toBe(1000);
  });

  it('when the encoding is compressed, then the fact chunk gives the samples, or else the data over the byte rate', async () => {
    const adpcm = fmt({ encoding: 0x11, channels: 1, sampleRate: 8000, bits: 4, blockAlign: 256, byteRate: 4055 });
    const fact = Buffer.alloc(4);
    fact.writeUInt32LE(20_000, 0);
    expect(await durationOf(riff(adpcm, chunk('fact', fact), chunk('data', Buffer.alloc(10_240))), 'audio/wav')).toBe(2500);
    expect(await durationOf(riff(adpcm, chunk('data', Buffer.alloc(8110))), 'audio/wav')).toBe(2000);
  });

  it('when the header is broken (no data chunk, no fmt chunk, a cut-off fmt chunk, a zero rate), then null', async () => {
    const pcm = fmt({ encoding: 1, channels: 1, sampleRate: 8000, bits: 16 });
    expect(await durationOf(riff(pcm), 'audio/wav')).toBeNull();
    expect(await durationOf(riff(chunk('data', Buffer.alloc(100))), 'audio/wav')).toBeNull();
    expect(await durationOf(riff(pcm).subarray(0, 28), 'audio/wav')).toBeNull();
    expect(await durationOf(riff(fmt({ encoding: 1, channels: 1, sampleRate: 0, bits: 16 }), chunk('data', Buffer.alloc(100))), 'audio/wav')).toBeNull();
  });
});

describe('MP3', () => {
  it('when the Info header claims fewer frames than the file holds, then every frame counts (and its gapless trim, which no longer agrees, is not applied)', async () => {
    const mp3 = await fixture('mono16k-cbr64.mp3');
    // The Info tag sits after the 4-byte header and 9 bytes of side information; its frame count follows the flags.
    expect(mp3.toString('latin1', 13, 17)).toBe('Info');
    mp3.writeUInt32BE(1, 21);
    expect(await durationOf(mp3, 'audio/mpeg')).toBe(2592);
  });

  it('when junk sits between frames and an ID3v1 tag ends the file, then only the frames count', async () => {
    const mp3 = await fixture('mono16k-no-info-tag.mp3');
    const frameBytes = 144;
    const tag = Buffer.concat([Buffer.from('TAG', 'latin1'), Buffer.alloc(125, 0x20)]);
    const spoiled = Buffer.concat([mp3.subarray(0, 10 * frameBytes), randomBytes(700), mp3.subarray(10 * frameBytes), tag]);
    expect(await durationOf(spoiled, 'audio/mpeg')).toBe(2592);
  });

  it('when the file is cut in the middle of a frame, then the frames before the cut count', async () => {
    const mp3 = await fixture('mono16k-no-info-tag.mp3');
    expect(await durationOf(mp3.subarray(0, 36 * 144 + 50), 'audio/mpeg')).toBe(1296);
  });

  it('when an ID3 tag holds no frames after it, then null', async () => {
    const id3 = Buffer.concat([Buffer.from('ID3\x03\0\0\0\0\0\x0a', 'latin1'), Buffer.alloc(10), randomBytes(2000).map((b) => b & 0x7f)]);
    expect(await durationOf(id3, 'audio/mpeg')).toBeNull();
  });
});

describe('FLAC', () => {
  it('when STREAMINFO leaves the total samples at 0 (unknown), then null', async () => {
    const flac = await fixture('mono16k.flac');
    // STREAMINFO follows "fLaC" and its 4-byte block header; total samples are the low 36 bits of bytes 13–17.
    flac[8 + 13] = flac[8 + 13]! & 0xf0;
    flac.writeUInt32BE(0, 8 + 14);
    expect(await durationOf(flac, 'audio/flac')).toBeNull();
  });

  it('when STREAMINFO claims far fewer samples than the frames hold, then it is not trusted: null', async () => {
    const flac = await fixture('mono16k.flac');
    expect(flac.readUInt32BE(8 + 14)).toBe(40_000);
    flac.writeUInt32BE(1600, 8 + 14);
    expect(await durationOf(flac, 'audio/flac')).toBeNull();
  });
});

describe('Ogg', () => {
  it('when two files are chained, then their links add up', async () => {
    const opus = await fixture('mono16k.opus');
    expect(await durationOf(Buffer.concat([opus, opus]), 'audio/ogg')).toBe(5000);
  });

  it('when the file is cut short, then the last whole page gives the duration', async () => {
    const opus = await fixture('mono16k.opus');
    const cut = await durationOf(opus.subarray(0, Math.floor(opus.length / 2)), 'audio/ogg');
    expect(cut).toBeGreaterThan(500);
    expect(cut).toBeLessThan(2500);
  });

  it('when the last page claims the time its bytes need, then that time; when it claims far less, then it is not trusted: null', async () => {
    const honest = syntheticOpus({ pages: 100, pageBytes: 4000, lastGranule: 100n * 48_000n, preSkip: 312 });
    expect(await durationOf(honest, 'audio/ogg')).toBe(Math.round(((100 * 48_000 - 312) / 48_000) * 1000));
    // 400 KB of one-channel Opus cannot play in one second (Opus stays under 64 KB/s per channel).
    const forged = syntheticOpus({ pages: 100, pageBytes: 4000, lastGranule: 48_000n, preSkip: 312 });
    expect(await durationOf(forged, 'audio/ogg')).toBeNull();
  });

  it('when the stream is of a codec that is not audio, or no page follows the headers, then null', async () => {
    const theora = oggPage({ serial: 7, sequence: 0, granule: 0n, bos: true, body: Buffer.from('\x80theora\x03\x02\x01', 'latin1') });
    expect(await durationOf(Buffer.concat([theora, oggPage({ serial: 7, sequence: 1, granule: 100n, body: randomBytes(500) })]), 'audio/ogg')).toBeNull();
    expect(await durationOf(oggPage({ serial: 7, sequence: 0, granule: 0n, bos: true, body: opusHead(1, 312) }), 'audio/ogg')).toBeNull();
  });
});
