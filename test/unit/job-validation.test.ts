import { generateBody } from '../../src/jobs/schemas';
import { parse } from '../../src/http/validate';
import { AppError } from '../../src/errors';

function problems(body: unknown): string[] {
  try {
    parse(generateBody, body);
    return [];
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    return ((e as AppError).details as { issues: { field: string }[] }).issues.map((i) => i.field);
  }
}

describe('generate request validation', () => {
  it('when valid, then defaults are applied', () => {
    expect(parse(generateBody, { model: 'black-forest-labs/flux-schnell', prompt: ' a cat ' })).toEqual({
      model: 'black-forest-labs/flux-schnell',
      prompt: 'a cat',
      num_outputs: 1,
      parameters: {},
    });
  });

  it('accepts a pinned version', () => {
    expect(problems({ model: `stability-ai/sdxl:${'a'.repeat(64)}`, prompt: 'x' })).toEqual([]);
  });

  it.each([
    [{ model: 'flux', prompt: 'x' }, 'model'],
    [{ model: 'a/b:123', prompt: 'x' }, 'model'],
    [{ model: 'a/b', prompt: '   ' }, 'prompt'],
    [{ model: 'a/b', prompt: 'x'.repeat(4001) }, 'prompt'],
    [{ model: 'a/b', prompt: 'x', num_outputs: 0 }, 'num_outputs'],
    [{ model: 'a/b', prompt: 'x', num_outputs: 50 }, 'num_outputs'],
    [{ model: 'a/b', prompt: 'x', num_outputs: '2' }, 'num_outputs'],
    [{ model: 'a/b', prompt: 'x', seed: -1 }, 'seed'],
    [{ model: 'a/b', prompt: 'x', output_format: 'bmp' }, 'output_format'],
    [{ model: 'a/b', prompt: 'x', parameters: { prompt: 'override' } }, 'parameters'],
    [{ model: 'a/b', prompt: 'x', parameters: { big: 'x'.repeat(17_000) } }, 'parameters'],
    [{ model: 'a/b', prompt: 'x', colour: 'red' }, 'body'],
  ])('when the body is %j, then %s is reported', (body, field) => {
    expect(problems(body)).toContain(field);
  });

  it('when several fields are wrong, then all of them are reported at once', () => {
    expect(problems({ model: 1, prompt: '', num_outputs: 9 })).toEqual(expect.arrayContaining(['model', 'prompt', 'num_outputs']));
  });
});
