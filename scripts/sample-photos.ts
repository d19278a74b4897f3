/**
 * Writes distinct sample photos for trying the training flow locally:
 *   npm run sample-photos -- ./photos [count]
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';

async function main(): Promise<void> {
  const dir = path.resolve(process.argv[2] ?? 'photos');
  const count = Number(process.argv[3] ?? 12);
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < count; i++) {
    const hue = Math.round((360 * i) / count);
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="768" height="1024">
      <rect width="100%" height="100%" fill="hsl(${hue},55%,60%)"/>
      <circle cx="${200 + i * 30}" cy="${300 + i * 40}" r="${120 + i * 5}" fill="hsl(${(hue + 180) % 360},60%,45%)"/>
      <text x="40" y="980" font-size="64" fill="white">sample ${i + 1}</text></svg>`;
    await sharp(Buffer.from(svg)).jpeg({ quality: 90 }).toFile(path.join(dir, `photo-${String(i + 1).padStart(2, '0')}.jpg`));
  }
  console.log(`wrote ${count} photos to ${dir}`);
}

void main();
