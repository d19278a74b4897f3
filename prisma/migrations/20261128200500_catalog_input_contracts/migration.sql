-- Each catalog model says which input fields users may set (a curated subset of the model's own
-- input schema, checked against the provider's by src/catalog/check-contracts.ts), which fields
-- the service always sets, and how its price scales with the input.

-- AlterTable
ALTER TABLE "catalog_models" ADD COLUMN "input_contract" JSONB NOT NULL DEFAULT '{}',
ADD COLUMN "protected_input" JSONB NOT NULL DEFAULT '{}',
ADD COLUMN "price_scale" JSONB;

-- Seed: the contracts. Fields: type (string, integer, number, boolean), description, and enum,
-- minimum, maximum, multipleOf, maxLength, default (sent when the user leaves the field out),
-- dev_only (offered outside production only: the local provider's extras).
UPDATE "catalog_models" SET
    "input_contract" = '{
        "aspect_ratio": {"type": "string", "description": "Aspect ratio of the images", "enum": ["1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", "4:3", "9:16", "9:21"]},
        "width": {"type": "integer", "description": "Local provider only: image width in pixels (the real model sizes by aspect_ratio)", "minimum": 256, "maximum": 1440, "dev_only": true},
        "height": {"type": "integer", "description": "Local provider only: image height in pixels (the real model sizes by aspect_ratio)", "minimum": 256, "maximum": 1440, "dev_only": true}
    }',
    "protected_input" = '{"disable_safety_checker": false}'
WHERE "name" = 'black-forest-labs/flux-schnell';

UPDATE "catalog_models" SET
    "input_contract" = '{
        "negative_prompt": {"type": "string", "description": "What the images should not show", "maxLength": 2000},
        "width": {"type": "integer", "description": "Image width in pixels", "minimum": 256, "maximum": 1536, "multipleOf": 8, "default": 1024},
        "height": {"type": "integer", "description": "Image height in pixels", "minimum": 256, "maximum": 1536, "multipleOf": 8, "default": 1024},
        "num_inference_steps": {"type": "integer", "description": "Denoising steps", "minimum": 1, "maximum": 50},
        "guidance_scale": {"type": "number", "description": "How closely the images follow the prompt", "minimum": 1, "maximum": 20}
    }',
    "protected_input" = '{"disable_safety_checker": false}',
    "price_scale" = '{"fields": ["width", "height"], "step": 1048576, "unit": "pixels"}'
WHERE "name" = 'stability-ai/sdxl';

UPDATE "catalog_models" SET
    "input_contract" = '{
        "prompt_strength": {"type": "number", "description": "How far the prompt moves the image from yours: 0 keeps it, 1 replaces it", "minimum": 0, "maximum": 1}
    }'
WHERE "name" = 'stability-ai/stable-diffusion-img2img';

UPDATE "catalog_models" SET
    "input_contract" = '{
        "duration": {"type": "integer", "description": "Length of the music in seconds", "minimum": 1, "maximum": 30, "default": 8}
    }',
    "protected_input" = '{"output_format": "wav"}',
    "price_scale" = '{"fields": ["duration"], "step": 10, "unit": "seconds"}'
WHERE "name" = 'meta/musicgen';

UPDATE "catalog_models" SET
    "input_contract" = '{
        "denoise_flag": {"type": "boolean", "description": "Denoise the recording before enhancing it"}
    }'
WHERE "name" = 'resemble-ai/resemble-enhance';
