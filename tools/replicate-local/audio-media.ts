import { hashBytes, sha256Hex } from './hash';

export const WAV_CONTENT_TYPE = 'audio/wav';

const SAMPLE_RATE = 32_000;
const NOTE_SECONDS = 0.25;
/** A major pentatonic scale around A4, in Hz. */
const SCALE = [220, 247.5, 275, 330, 366.7, 440, 495, 550, 660, 733.3];
const PEAK = 0.9 * 32767;

interface Pcm16 {
  samples: Int16Array;
  sampleRate: number;
  channels: number;
}

/** A playable mono 16-bit PCM WAV: a melody of short sine notes derived from `key`. */
export function generateWav(key: string, durationSeconds: number): Buffer {
  const total = Math.round(durationSeconds * SAMPLE_RATE);
  const perNote = Math.round(NOTE_SECONDS * SAMPLE_RATE);
  const notes = hashBytes(key, Math.ceil(total / perNote));
  const samples = new Int16Array(total);
  for (let i = 0; i < total; i++) {
    const n = Math.floor(i / perNote);
    const frequency = SCALE[(notes[n] ?? 0) % SCALE.length] ?? 440;
    const t = (i % perNote) / SAMPLE_RATE;
    const envelope = Math.min(1, t * 50) * Math.exp(-t * 6);
    samples[i] = Math.round(0.5 * 32767 * envelope * Math.sin(2 * Math.PI * frequency * t));
  }
  return encodeWav({ samples, sampleRate: SAMPLE_RATE, channels: 1 });
}

/**
 * "Enhances" audio: a 16-bit PCM WAV is peak-normalised (same rate and channels);
 * other formats (MP3, FLAC, OGG, other WAV encodings) yield a 3 s WAV derived from the input bytes.
 */
export function enhanceAudio(input: Buffer): Buffer {
  const pcm = decodePcm16Wav(input);
  return pcm ? encodeWav(normalise(pcm)) : generateWav(sha256Hex(input), 3);
}

function normalise(pcm: Pcm16): Pcm16 {
  const peak = pcm.samples.reduce((max, s) => Math.max(max, Math.abs(s)), 0);
  if (peak === 0) return pcm;
  const gain = PEAK / peak;
  return { ...pcm, samples: pcm.samples.map((s) => Math.round(s * gain)) };
}

export function encodeWav({ samples, sampleRate, channels }: Pcm16): Buffer {
  const dataBytes = samples.length * 2;
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(36 + dataBytes, 4);
  header.write('WAVEfmt ', 8, 'latin1');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(channels, 22);
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate * channels * 2, 28);
  header.writeUInt16LE(channels * 2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'latin1');
  header.writeUInt32LE(dataBytes, 40);
  const data = Buffer.from(samples.buffer, samples.byteOffset, dataBytes);
  return Buffer.concat([header, data]);
}

/** Parses a RIFF/WAVE file holding 16-bit PCM; null for anything else. */
export function decodePcm16Wav(buf: Buffer): Pcm16 | null {
  if (buf.length < 12 || buf.toString('latin1', 0, 4) !== 'RIFF' || buf.toString('latin1', 8, 12) !== 'WAVE') return null;
  let format: { sampleRate: number; channels: number; pcm16: boolean } | undefined;
  for (let offset = 12; offset + 8 <= buf.length; ) {
    const id = buf.toString('latin1', offset, offset + 4);
    const size = buf.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'fmt ' && body + 16 <= buf.length) {
      format = {
        pcm16: buf.readUInt16LE(body) === 1 && buf.readUInt16LE(body + 14) === 16,
        channels: buf.readUInt16LE(body + 2),
        sampleRate: buf.readUInt32LE(body + 4),
      };
    }
    if (id === 'data') {
      if (!format?.pcm16) return null;
      const data = buf.subarray(body, Math.min(buf.length, body + size));
      const samples = new Int16Array(Math.floor(data.length / 2));
      for (let i = 0; i < samples.length; i++) samples[i] = data.readInt16LE(i * 2);
      return { samples, sampleRate: format.sampleRate, channels: format.channels };
    }
    offset = body + size + (size % 2);
  }
  return null;
}
