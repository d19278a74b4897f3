// Tests talk to loopback only; keep the SDKs from looking for cloud credentials or regions.
process.env.AWS_EC2_METADATA_DISABLED = 'true';
