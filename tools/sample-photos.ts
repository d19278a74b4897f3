/**
 * Writes sample training photos for trying the training flow locally: crops, flips and scales of
 * one person's face from the real photos that ship inside @vladmandic/face-api (test/fixtures/faces.ts),
 * so they pass the photo inspection:
 *   npm run sample-photos -- ./photos [count]            # count photos of one person (10–30, default 12)
 *   npm run sample-photos -- ./photos [count] --flawed   # and a blurry photo, a group photo and someone else
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { blurryPhoto, groupPhoto, samePersonSet, someoneElse } from '../test/fixtures/faces';

async function main(): Promise<void> {
  const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const flawed = process.argv.includes('--flawed');
  const dir = path.resolve(args[0] ?? 'photos');
  const count = Number(args[1] ?? 12);
  mkdirSync(dir, { recursive: true });
  const photos = [...(await samePersonSet('a', count))];
  if (flawed) photos.push(await blurryPhoto('blurry.jpg'), await groupPhoto('group.jpg'), await someoneElse('b', 'someone-else.jpg'));
  for (const p of photos) writeFileSync(path.join(dir, p.filename), p.buffer);
  console.log(`wrote ${photos.length} photos to ${dir}${flawed ? ' (the last three with problems: blurry.jpg, group.jpg, someone-else.jpg)' : ''}`);
}

void main();
