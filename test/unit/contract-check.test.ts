import { checkContract, type OpenApiSchema } from '../../src/catalog/contract-check';
import { checkParameters, type ModelContract } from '../../src/catalog/contract';
import { creditsFor, unitCredits } from '../../src/catalog/service';

/**
 * A model version's input schema shaped as Cog publishes it on Replicate: enums are separate
 * components reached through allOf/$ref (the local provider inlines them, so this shape is
 * only exercised here).
 */
const COG_SCHEMA: OpenApiSchema = {
  components: {
    schemas: {
      Input: {
        properties: {
          prompt: { type: 'string' },
          aspect_ratio: { allOf: [{ $ref: '#/components/schemas/aspect_ratio' }] },
          megapixels: { allOf: [{ $ref: '#/components/schemas/megapixels' }] },
          num_inference_steps: { type: 'integer', minimum: 1, maximum: 4 },
          output_quality: { type: 'integer', minimum: 0, maximum: 100 },
          disable_safety_checker: { type: 'boolean' },
        },
      },
      aspect_ratio: { type: 'string', enum: ['1:1', '16:9', '9:16'] },
      megapixels: { type: 'string', enum: ['1', '0.25'] },
    },
  },
};

const CONTRACT: ModelContract = {
  input: {
    aspect_ratio: { type: 'string', description: 'ratio', enum: ['1:1', '16:9'] },
    megapixels: { type: 'string', description: 'size', enum: ['1', '0.25'] },
    output_quality: { type: 'integer', description: 'quality', minimum: 0, maximum: 100 },
    width: { type: 'integer', description: 'local only', minimum: 256, maximum: 1440, dev_only: true },
  },
  protectedInput: { disable_safety_checker: false },
};

describe('checking a contract against a published input schema', () => {
  it('when the enums sit behind allOf/$ref, then they are resolved and a contract within them passes; dev-only fields are skipped for the real provider', () => {
    expect(checkContract(CONTRACT, COG_SCHEMA, { devOnly: false })).toEqual({ problems: [], notes: [] });
  });

  it('when the contract offers an enum value, a range or a field the provider lacks, then each is a problem', () => {
    const loose: ModelContract = {
      input: {
        ...CONTRACT.input,
        aspect_ratio: { type: 'string', description: 'ratio', enum: ['1:1', '7:3'] },
        megapixels: { type: 'string', description: 'free text' },
        num_inference_steps: { type: 'integer', description: 'steps', minimum: 1, maximum: 50 },
      },
      protectedInput: { disable_safety_checker: 'no' },
    };
    expect(checkContract(loose, COG_SCHEMA, { devOnly: true }).problems).toEqual([
      'aspect_ratio: "7:3" is not a provider value',
      'megapixels: the provider takes only "1", "0.25"; the contract needs an enum',
      "num_inference_steps: the provider's maximum is 4; the contract allows 50",
      "width: not in the provider's input schema",
      'disable_safety_checker: protected value "no" is not a provider boolean',
    ]);
  });
});

describe('validated input and its price', () => {
  const sdxl: ModelContract = {
    input: {
      width: { type: 'integer', description: 'w', minimum: 256, maximum: 1536, multipleOf: 8, default: 1024 },
      height: { type: 'integer', description: 'h', minimum: 256, maximum: 1536, multipleOf: 8, default: 1024 },
    },
    protectedInput: { disable_safety_checker: false },
  };
  const price = { priceUnit: 'output' as const, priceCredits: 3, priceScale: { fields: ['width', 'height'], step: 1_048_576, unit: 'pixels' } };

  it('when fields are left out, then the defaults and the protected fields make the input, and the price is computed from it', () => {
    const { input, issues } = checkParameters(sdxl, { width: 1536 }, { devKnobs: false });
    expect(issues).toEqual([]);
    expect(input).toEqual({ width: 1536, height: 1024, disable_safety_checker: false });
    expect(unitCredits(price, input)).toBe(6);
    expect(creditsFor(price, 3, input)).toBe(18);
    // A job stores its scaled unit price; settling it needs no input.
    expect(creditsFor({ priceUnit: 'output', priceCredits: unitCredits(price, input) }, 2)).toBe(12);
    expect(creditsFor({ priceUnit: 'run', priceCredits: 5, priceScale: { fields: ['duration'], step: 10, unit: 'seconds' } }, 1, { duration: 25 })).toBe(15);
  });
});
