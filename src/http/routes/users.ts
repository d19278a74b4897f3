import { Router } from 'express';
import { z } from 'zod';
import { createUser } from '../../accounts/service';
import type { AppDeps } from '../deps';
import { parse } from '../validate';

export const createUserBody = z.strictObject({
  email: z.email({ message: 'must be an email address' }).max(254).transform((e) => e.toLowerCase()),
});

export function createUsersRouter({ db, config }: Pick<AppDeps, 'db' | 'config'>): Router {
  const router = Router();
  router.post('/users', async (req, res) => {
    const { email } = parse(createUserBody, req.body);
    const user = await createUser(db, config.apiKeyPepper, email);
    res.status(201).json({ id: user.id, email: user.email, api_key: user.apiKey });
  });
  return router;
}
