// AWS list prices the bench's cost figure uses: us-east-1, on-demand, without free tiers, as published on
// aws.amazon.com/{lambda,dynamodb,sqs,s3}/pricing on the date below. Data, not code: update them together.
export const awsPrices = {
  as_of: "2026-11-15",
  region: "us-east-1",
  lambda: {
    /** Arm64 (the stack's architecture), first 6 billion GB-seconds a month. */
    usd_per_gb_second: 0.0000133334,
    usd_per_million_requests: 0.2,
  },
  dynamodb: {
    /** On-demand; a read unit is 4 KB strongly consistent (half for eventually consistent), a write unit 1 KB. */
    usd_per_million_read_units: 0.125,
    usd_per_million_write_units: 0.625,
  },
  sqs: {
    /** Standard (and fair) queues; each 64 KB chunk of a request is one request. */
    usd_per_million_requests: 0.4,
  },
  s3: {
    /** S3 Standard: PUT, COPY, POST, LIST per 1,000; GET per 1,000. */
    usd_per_1000_put: 0.005,
    usd_per_1000_get: 0.0004,
  },
} as const;
