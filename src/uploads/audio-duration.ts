import { open, type FileHandle } from 'node:fs/promises';

/**
 * The playing time of an uploaded audio file, read from its container without decoding it:
 *
 * - WAV: the `data` chunk's size over the `fmt ` chunk's block size and rate (or the `fact`
 *   chunk's sample count for compressed encodings).
 * - FLAC: the total samples of STREAMINFO.
 * - Ogg (Opus, Vorbis, FLAC, Speex): the granule position of the stream's last page (less
 *   Opus's pre-skip), summed over chained links.
 * - MP3: every frame header is walked (4 bytes each, the frames' audio is skipped) and
 *   counted, so a VBR file without a Xing header is measured right and a Xing or VBRI header
 *   cannot claim fewer frames than the file holds; LAME's encoder delay and padding are taken
 *   off when its tag agrees with the count.
 *
 * A duration the file's size contradicts (a FLAC or Ogg stream holding more audio bytes than
 * its format can carry in the time its header claims) is not trusted: a job priced by
 * duration must not be charged for a second while the model receives ten minutes.
 *
 * Returns milliseconds, or null when the headers give no duration (a broken or truncated
 * header, a FLAC encoder that left total samples at 0, an Ogg stream of another codec).
 * Reads the file in windows of WINDOW_BYTES; a malformed file is null, never an exception.
 */
export async function readAudioDurationMs(path: string, contentType: string): Promise<number | null> {
  const measure = MEASURES[contentType];
  if (!measure) return null;
  const handle = await open(path);
  try {
    const source = new FileWindow(handle, (await handle.stat()).size);
    const seconds = await measure(source).catch((err: unknown) => {
      // A header field pointing past what was read (Buffer's ERR_OUT_OF_RANGE): the file is malformed, not the reader.
      if ((err as { name?: unknown } | null)?.name === 'RangeError') return null;
      throw err;
    });
    if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return null;
    return Math.min(MAX_DURATION_MS, Math.round(seconds * 1000));
  } finally {
    await handle.close();
  }
}

/** The largest duration stored (the column is a 32-bit integer): about 24.8 days, far past any model's limit. */
export const MAX_DURATION_MS = 2 ** 31 - 1;

type Measure = (source: ByteSource) => Promise<number | null>;

const MEASURES: Record<string, Measure> = {
  'audio/wav': wavSeconds,
  'audio/flac': flacSeconds,
  'audio/ogg': oggSeconds,
  'audio/mpeg': mp3Seconds,
};

// ---------------------------------------------------------------------------------------------
// Reading

interface ByteSource {
  readonly size: number;
  /** Up to `length` bytes at `position`: fewer at the end of the file, none past it. */
  read(position: number, length: number): Promise<Buffer>;
}

const WINDOW_BYTES = 256 * 1024;

/** Positional reads through one cached window, so walking small headers costs one read per window. */
class FileWindow implements ByteSource {
  private window = Buffer.alloc(0);
  private start = 0;

  constructor(
    private readonly handle: FileHandle,
    readonly size: number,
  ) {}

  async read(position: number, length: number): Promise<Buffer> {
    const end = Math.min(position + length, this.size);
    if (position >= end) return Buffer.alloc(0);
    if (position < this.start || end > this.start + this.window.length) {
      const buf = Buffer.alloc(Math.min(Math.max(length, WINDOW_BYTES), this.size - position));
      const { bytesRead } = await this.handle.read(buf, 0, buf.length, position);
      this.window = buf.subarray(0, bytesRead);
      this.start = position;
    }
    return this.window.subarray(position - this.start, Math.min(end, this.start + this.window.length) - this.start);
  }
}

/**
 * The first position in [from, until) where `needle` starts and `accept` holds, looked for in
 * windows that overlap by `overlap` bytes (so `accept` sees at least that many bytes after a
 * match, except at the end of the file); null if none. `accept` gets the window and the match's
 * index in it, and the absolute position of the window's end.
 */
async function find(
  source: ByteSource,
  range: { from: number; until: number },
  needle: number | string,
  overlap: number,
  accept: (window: Buffer, index: number, windowEnd: number) => boolean,
): Promise<number | null> {
  for (let start = range.from; start < range.until; start += WINDOW_BYTES - overlap) {
    const window = await source.read(start, WINDOW_BYTES);
    const end = start + window.length;
    for (let i = window.indexOf(needle); i !== -1 && start + i < range.until; i = window.indexOf(needle, i + 1)) {
      if (accept(window, i, end)) return start + i;
    }
    if (end >= source.size) break;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// WAV (RIFF/WAVE)

/** Encodings whose data is whole blocks of uncompressed samples: PCM, IEEE float, A-law, µ-law, extensible. */
const BLOCK_ENCODINGS = new Set([0x0001, 0x0003, 0x0006, 0x0007, 0xfffe]);
const MAX_CHUNKS = 1000;

async function wavSeconds(source: ByteSource): Promise<number | null> {
  const riff = await source.read(0, 12);
  if (riff.length < 12 || riff.toString('latin1', 0, 4) !== 'RIFF' || riff.toString('latin1', 8, 12) !== 'WAVE') return null;
  let format: { encoding: number; sampleRate: number; byteRate: number; blockAlign: number } | undefined;
  let factSamples: number | undefined;
  let dataBytes: number | undefined;
  let offset = 12;
  for (let n = 0; n < MAX_CHUNKS && offset + 8 <= source.size && (!format || dataBytes === undefined); n++) {
    const header = await source.read(offset, 8);
    const id = header.toString('latin1', 0, 4);
    const size = header.readUInt32LE(4);
    const body = offset + 8;
    if (id === 'fmt ') {
      const fmt = await source.read(body, 16);
      format = { encoding: fmt.readUInt16LE(0), sampleRate: fmt.readUInt32LE(4), byteRate: fmt.readUInt32LE(8), blockAlign: fmt.readUInt16LE(12) };
    } else if (id === 'fact') {
      factSamples = (await source.read(body, 4)).readUInt32LE(0);
    } else if (id === 'data') {
      // A writer that could not seek back leaves the size at 0 or 0xFFFFFFFF; the data then runs to the end.
      const rest = source.size - body;
      dataBytes = size === 0 || size > rest ? rest : size;
    }
    offset = body + size + (size % 2);
  }
  if (!format || dataBytes === undefined || format.sampleRate === 0) return null;
  if (BLOCK_ENCODINGS.has(format.encoding)) return format.blockAlign ? Math.floor(dataBytes / format.blockAlign) / format.sampleRate : null;
  if (factSamples !== undefined) return factSamples / format.sampleRate;
  return format.byteRate ? dataBytes / format.byteRate : null;
}

// ---------------------------------------------------------------------------------------------
// FLAC

interface StreamInfo {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  totalSamples: number;
}

/** STREAMINFO (34 bytes): rate 20 bits, channels − 1 3 bits, bits per sample − 1 5 bits, total samples 36 bits, from byte 10. */
function streamInfo(block: Buffer): StreamInfo | null {
  if (block.length < 18) return null;
  const sampleRate = (block[10]! << 12) | (block[11]! << 4) | (block[12]! >> 4);
  const channels = ((block[12]! >> 1) & 0b111) + 1;
  const bitsPerSample = (((block[12]! & 1) << 4) | (block[13]! >> 4)) + 1;
  const totalSamples = (block[13]! & 0x0f) * 2 ** 32 + block.readUInt32BE(14);
  return { sampleRate, channels, bitsPerSample, totalSamples };
}

/** Room for what may follow the audio (an ID3v1 tag) beside the bounds of the formats below. */
const SLACK_BYTES = 4096;

/**
 * The most bytes of frames a FLAC stream can take for `info`: its samples stored verbatim,
 * plus frame and subframe headers (under 10% at the smallest block size an encoder uses).
 */
function flacBytesBound(info: StreamInfo): number {
  return info.totalSamples * info.channels * Math.ceil(info.bitsPerSample / 8) * 1.1 + SLACK_BYTES;
}

async function flacSeconds(source: ByteSource): Promise<number | null> {
  if ((await source.read(0, 4)).toString('latin1') !== 'fLaC') return null;
  let info: StreamInfo | null = null;
  let offset = 4;
  // Metadata blocks (STREAMINFO first), then the audio frames.
  for (let n = 0; n < MAX_CHUNKS; n++) {
    const header = await source.read(offset, 4);
    if (header.length < 4) return null;
    const last = (header[0]! & 0x80) !== 0;
    const type = header[0]! & 0x7f;
    const length = header.readUIntBE(1, 3);
    if (n === 0) {
      if (type !== 0) return null;
      info = streamInfo(await source.read(offset + 4, length));
    }
    offset += 4 + length;
    if (last) break;
  }
  if (!info || info.sampleRate === 0 || info.totalSamples === 0) return null;
  if (source.size - offset > flacBytesBound(info)) return null;
  return info.totalSamples / info.sampleRate;
}

// ---------------------------------------------------------------------------------------------
// Ogg

interface OggAudio {
  serial: number;
  /** Granule positions count samples at this rate (48 kHz for Opus, whatever the input was). */
  granuleRate: number;
  /** Samples at the start the decoder drops (Opus pre-skip). */
  preSkip: number;
  /** The most bytes one second of this codec can take. */
  maxBytesPerSecond: number;
}

/** Vorbis, Opus and Speex stay below 512 kbit/s per channel at their highest settings (at 48 kHz; Vorbis grows with the rate). */
const LOSSY_BYTES_PER_CHANNEL_SECOND = 64_000;

/** The audio stream a BOS page's first packet starts, or null for another codec (video, text). */
function oggAudio(serial: number, packet: Buffer): OggAudio | null {
  const lossy = (channels: number, rate = 48_000) => Math.max(1, channels) * LOSSY_BYTES_PER_CHANNEL_SECOND * Math.max(1, rate / 48_000);
  if (packet.length >= 19 && packet.toString('latin1', 0, 8) === 'OpusHead') {
    return { serial, granuleRate: 48_000, preSkip: packet.readUInt16LE(10), maxBytesPerSecond: lossy(packet[9]!) };
  }
  if (packet.length >= 16 && packet[0] === 1 && packet.toString('latin1', 1, 7) === 'vorbis') {
    const rate = packet.readUInt32LE(12);
    return { serial, granuleRate: rate, preSkip: 0, maxBytesPerSecond: lossy(packet[11]!, rate) };
  }
  if (packet.length >= 51 && packet[0] === 0x7f && packet.toString('latin1', 1, 5) === 'FLAC' && packet.toString('latin1', 9, 13) === 'fLaC') {
    const info = streamInfo(packet.subarray(17));
    if (!info) return null;
    return { serial, granuleRate: info.sampleRate, preSkip: 0, maxBytesPerSecond: info.sampleRate * info.channels * Math.ceil(info.bitsPerSample / 8) * 1.1 };
  }
  if (packet.length >= 52 && packet.toString('latin1', 0, 8) === 'Speex   ') {
    return { serial, granuleRate: packet.readUInt32LE(36), preSkip: 0, maxBytesPerSecond: lossy(packet.readUInt32LE(48)) };
  }
  return null;
}

/** One link of a chained Ogg file: the streams that begin together, and the audio one measured. */
interface OggLink {
  audio: OggAudio | null;
  lastGranule: bigint | null;
  /** Bytes of the audio stream's pages past its headers (whose granule position is 0): cover art in a comment header does not count. */
  audioBytes: number;
}

const OGG_PAGE_HEADER = 27;
const NO_GRANULE = -1n;

interface OggPage {
  bos: boolean;
  granule: bigint;
  serial: number;
  bodyStart: number;
  bodyLength: number;
  length: number;
}

/** The page at `at` in `buf`: 'short' if `buf` ends before it does, 'invalid' if no page starts there. */
function oggPage(buf: Buffer, at: number): OggPage | 'short' | 'invalid' {
  if (at + OGG_PAGE_HEADER > buf.length) return 'short';
  if (buf.toString('latin1', at, at + 4) !== 'OggS' || buf[at + 4] !== 0) return 'invalid';
  const count = buf[at + 26]!;
  const bodyStart = at + OGG_PAGE_HEADER + count;
  if (bodyStart > buf.length) return 'short';
  let bodyLength = 0;
  for (let i = at + OGG_PAGE_HEADER; i < bodyStart; i++) bodyLength += buf[i]!;
  if (bodyStart + bodyLength > buf.length) return 'short';
  return { bos: (buf[at + 5]! & 0x02) !== 0, granule: buf.readBigInt64LE(at + 6), serial: buf.readUInt32LE(at + 14), bodyStart, bodyLength, length: bodyStart + bodyLength - at };
}

/** Walks every page header (the pages' data is skipped), keeping each link's audio stream and its last granule position. */
async function oggSeconds(source: ByteSource): Promise<number | null> {
  const links: OggLink[] = [];
  let previousWasBos = false;
  let position = 0;
  let window = await source.read(0, WINDOW_BYTES);
  let windowStart = 0;
  while (position + OGG_PAGE_HEADER <= source.size) {
    const page = oggPage(window, position - windowStart);
    if (page === 'short') {
      // A page cut off by the end of the file does not count; one cut off by the window is read again
      // (a page, at most 65,307 bytes, always fits in a window).
      if (windowStart + window.length >= source.size || position === windowStart) break;
      window = await source.read(position, WINDOW_BYTES);
      windowStart = position;
      continue;
    }
    if (page === 'invalid') {
      // Junk between pages: players resynchronise on the next capture pattern.
      const next = await find(source, { from: position + 1, until: source.size }, 'OggS', 5, (w, i) => w[i + 4] === 0);
      if (next === null) break;
      position = next;
      window = await source.read(position, WINDOW_BYTES);
      windowStart = position;
      continue;
    }
    if (page.bos) {
      if (!previousWasBos) links.push({ audio: null, lastGranule: null, audioBytes: 0 });
      const link = links[links.length - 1]!;
      link.audio ??= oggAudio(page.serial, window.subarray(page.bodyStart, page.bodyStart + Math.min(page.bodyLength, 64)));
    } else {
      const link = links[links.length - 1];
      if (link?.audio?.serial === page.serial) {
        if (page.granule !== NO_GRANULE) link.lastGranule = page.granule;
        if (page.granule !== 0n) link.audioBytes += page.bodyLength;
      }
    }
    previousWasBos = page.bos;
    position += page.length;
  }
  let seconds = 0;
  for (const link of links) {
    if (!link.audio || link.lastGranule === null || link.audio.granuleRate === 0) return null;
    const linkSeconds = Math.max(0, Number(link.lastGranule) - link.audio.preSkip) / link.audio.granuleRate;
    if (link.audioBytes > linkSeconds * link.audio.maxBytesPerSecond + SLACK_BYTES) return null;
    seconds += linkSeconds;
  }
  return links.length ? seconds : null;
}

// ---------------------------------------------------------------------------------------------
// MP3 (MPEG-1, 2 and 2.5 audio, layers I–III)

interface MpegFrame {
  /** 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5 (the header's bits). */
  version: number;
  layer: 1 | 2 | 3;
  sampleRate: number;
  samples: number;
  length: number;
  mono: boolean;
}

/** kbit/s by bitrate index: MPEG-1 layers I, II, III; MPEG-2 and 2.5 layer I; MPEG-2 and 2.5 layers II and III. */
const BITRATES_KBPS = [
  [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
  [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
  [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
  [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
];
const SAMPLE_RATES: Record<number, number[]> = { 3: [44_100, 48_000, 32_000], 2: [22_050, 24_000, 16_000], 0: [11_025, 12_000, 8_000] };

/** The frame whose 4-byte header is at `at` in `buf`, or null if it is none (or free-format, whose length the header does not give). */
function mpegFrame(buf: Buffer, at: number): MpegFrame | null {
  if (at + 4 > buf.length || buf[at] !== 0xff) return null;
  const b1 = buf[at + 1]!;
  const b2 = buf[at + 2]!;
  const version = (b1 >> 3) & 0b11;
  const layerBits = (b1 >> 1) & 0b11;
  const bitrateIndex = b2 >> 4;
  const rateIndex = (b2 >> 2) & 0b11;
  if ((b1 & 0xe0) !== 0xe0 || version === 1 || layerBits === 0 || bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3) return null;
  const layer = (4 - layerBits) as 1 | 2 | 3;
  const kbps = BITRATES_KBPS[version === 3 ? layer - 1 : layer === 1 ? 3 : 4]![bitrateIndex]!;
  const sampleRate = SAMPLE_RATES[version]![rateIndex]!;
  const padding = (b2 >> 1) & 1;
  const samples = layer === 1 ? 384 : layer === 3 && version !== 3 ? 576 : 1152;
  const length = layer === 1 ? (Math.floor((12_000 * kbps) / sampleRate) + padding) * 4 : Math.floor((samples / 8) * ((1000 * kbps) / sampleRate)) + padding;
  return { version, layer, sampleRate, samples, length, mono: buf[at + 3]! >> 6 === 0b11 };
}

const sameStream = (a: MpegFrame, b: MpegFrame) => a.version === b.version && a.layer === b.layer && a.sampleRate === b.sampleRate;

/** The longest MPEG audio frame: layer II at 160 kbit/s and 8 kHz (MPEG-2.5), with padding. */
const MPEG_MAX_FRAME = 2881;

/**
 * The first frame at or after `from` (before `until`) that another frame of the same stream
 * follows, or that ends the file: not a stray 0xFF in other data. `like`: of that stream only.
 */
function findFrame(source: ByteSource, range: { from: number; until: number }, like?: MpegFrame): Promise<number | null> {
  return find(source, range, 0xff, MPEG_MAX_FRAME + 4, (w, i, windowEnd) => {
    const frame = mpegFrame(w, i);
    if (!frame || (like && !sameStream(frame, like))) return false;
    const next = i + frame.length;
    if (windowEnd - w.length + next === source.size) return true;
    const following = mpegFrame(w, next);
    return following !== null && sameStream(following, frame);
  });
}

/** How many ID3v2 tags in a row the start of a file may hold before the first frame. */
const MAX_ID3V2_TAGS = 16;

/** The ID3v2 tags at the start (several may follow each other), as the position after them. */
async function afterId3v2(source: ByteSource): Promise<number> {
  let position = 0;
  for (let n = 0; n < MAX_ID3V2_TAGS; n++) {
    const h = await source.read(position, 10);
    if (h.length < 10 || h.toString('latin1', 0, 3) !== 'ID3') break;
    const size = ((h[6]! & 0x7f) << 21) | ((h[7]! & 0x7f) << 14) | ((h[8]! & 0x7f) << 7) | (h[9]! & 0x7f);
    position += 10 + size + (h[5]! & 0x10 ? 10 : 0);
  }
  return position;
}

/** How far from the file's start (after tags) the first frame is looked for. */
const FIRST_FRAME_SEARCH_BYTES = 1024 * 1024;

/** What a Xing/Info or VBRI header in the first frame says: that frame carries no audio. */
interface VbrHeader {
  frames: number | null;
  /** LAME's encoder delay + padding, in samples: what a gapless decoder leaves out. */
  trim: number;
}

async function vbrHeader(source: ByteSource, position: number, frame: MpegFrame): Promise<VbrHeader | null> {
  const data = await source.read(position, frame.length);
  const sideInfo = frame.version === 3 ? (frame.mono ? 17 : 32) : frame.mono ? 9 : 17;
  const xing = 4 + sideInfo;
  const tag = data.toString('latin1', xing, xing + 4);
  if (tag === 'Xing' || tag === 'Info') {
    const flags = data.readUInt32BE(xing + 4);
    const frames = flags & 1 ? data.readUInt32BE(xing + 8) : null;
    const extension = xing + 8 + (flags & 1 ? 4 : 0) + (flags & 2 ? 4 : 0) + (flags & 4 ? 100 : 0) + (flags & 8 ? 4 : 0);
    // LAME's extension: a 9-byte encoder name, then delay and padding (12 bits each) 21 bytes in.
    const encoder = data.toString('latin1', extension, extension + 4);
    let trim = 0;
    if ((encoder === 'LAME' || encoder === 'Lavc' || encoder === 'Lavf') && extension + 24 <= data.length) {
      const gapless = data.readUIntBE(extension + 21, 3);
      trim = (gapless >> 12) + (gapless & 0xfff);
    }
    return { frames, trim };
  }
  if (data.toString('latin1', 36, 40) === 'VBRI') return { frames: data.readUInt32BE(36 + 14), trim: 0 };
  return null;
}

async function mp3Seconds(source: ByteSource): Promise<number | null> {
  const start = await afterId3v2(source);
  const firstAt = await findFrame(source, { from: start, until: Math.min(source.size, start + FIRST_FRAME_SEARCH_BYTES) });
  if (firstAt === null) return null;
  const first = mpegFrame(await source.read(firstAt, 4), 0)!;
  const header = await vbrHeader(source, firstAt, first);
  let frames = 0;
  let position = firstAt + (header ? first.length : 0);
  while (position + 4 <= source.size) {
    const window = await source.read(position, WINDOW_BYTES);
    let at = 0;
    for (let frame = mpegFrame(window, 0); frame && sameStream(frame, first); frame = mpegFrame(window, at)) {
      frames += 1;
      at += frame.length;
    }
    position += at;
    // The walk left the window (read on from there), or lost sync: junk, or the tags at the end.
    if (at + 4 > window.length) continue;
    const next = await findFrame(source, { from: position + 1, until: source.size }, first);
    if (next === null) break;
    position = next;
  }
  // The last frame counted may be cut off by the end of the file: only whole frames play.
  if (position > source.size) frames -= 1;
  const samples = frames * first.samples - (header && header.frames === frames ? header.trim : 0);
  return Math.max(0, samples) / first.sampleRate;
}
