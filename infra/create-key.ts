import { parseArgs } from "node:util";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { KeyStore, tenantPattern } from "../lib/auth/keys.ts";

// `npm run create-key -- --table <TableName output> --tenant acme [--name ci]`: makes an API key for a tenant of a
// deployed stack and prints it once. Only its SHA-256 hash is stored. Runs with your AWS credentials and region
// (AWS_PROFILE, AWS_REGION), like the AWS CLI.

const usage = "Usage: npm run create-key -- --table <TableName> --tenant <tenant> [--name <label>]";

const { values } = parseArgs({
  options: {
    table: { type: "string" },
    tenant: { type: "string" },
    name: { type: "string", default: "default" },
  },
});
if (!values.table || !values.tenant) {
  process.stderr.write(`${usage}\n`);
  process.exit(2);
}
if (!tenantPattern.test(values.tenant)) {
  process.stderr.write(
    `Invalid tenant '${values.tenant}': lowercase letters, digits, '-' and '_', starting with a letter or digit.\n`,
  );
  process.exit(2);
}

const client = new DynamoDBClient({});
try {
  const key = KeyStore.generate();
  const keyId = await new KeyStore(client, values.table).put(key, values.tenant, values.name);
  process.stdout.write(
    `API key for tenant "${values.tenant}" (${keyId}); shown once, keep it safe:\n\n  ${key}\n\n`,
  );
} finally {
  client.destroy();
}
