-- The longest input file a model takes (seconds of its duration); null: no bound.
ALTER TABLE "catalog_models" ADD COLUMN "file_max_seconds" INTEGER;
ALTER TABLE "catalog_models" ADD CONSTRAINT "catalog_models_file_max_seconds_check" CHECK ("file_max_seconds" > 0);

-- resemble-enhance was 4 credits per run for any file up to the 50 MB audio limit: a 20-second
-- memo paid what an hour of MP3 paid, and the provider's run time grows with the audio. It now
-- costs 1 credit per started 15 seconds of the recording (a one-minute clip still costs 4), for
-- recordings of at most 10 minutes (40 credits). Jobs accepted before keep the price they stored.
UPDATE "catalog_models" SET
    "price_credits" = 1,
    "price_scale" = '{"fields": ["input_file.duration"], "step": 15, "unit": "seconds"}',
    "file_max_seconds" = 600
WHERE "name" = 'resemble-ai/resemble-enhance';
