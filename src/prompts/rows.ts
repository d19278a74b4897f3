import type { Db } from '../db/client';
import { AppError } from '../errors';
import type { Prompt, PromptImage } from '../generated/prisma/client';

/** A prompt with its images, by index: what its GET, its webhook deliveries and its cancel read. */
export type PromptWithImages = Prompt & { images: PromptImage[] };

/** The caller's prompt with its images, or 404: another user's prompt does not exist for them. */
export async function getOwnPrompt(db: Db, userId: string, promptId: string): Promise<PromptWithImages> {
  const prompt = await db.prompt.findFirst({ where: { id: promptId, userId }, include: { images: { orderBy: { index: 'asc' } } } });
  if (!prompt) throw AppError.notFound('Prompt');
  return prompt;
}
