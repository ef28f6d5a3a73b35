import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { afterEach, describe, expect, it, vi } from "vitest";
import { withSecretsClient } from "../../lib/secrets.ts";

const config = { AWS_REGION: "eu-west-3", AWS_ENDPOINT_URL_SECRETS_MANAGER: "http://127.0.0.1:9" };

describe("withSecretsClient", () => {
  afterEach(() => vi.restoreAllMocks());

  it("uses an injected client and leaves it to its owner", async () => {
    const client = new SecretsManagerClient({ region: "us-east-1" });
    const destroy = vi.spyOn(client, "destroy");
    expect(await withSecretsClient(config, client, async (c) => c)).toBe(client);
    expect(destroy).not.toHaveBeenCalled();
    client.destroy();
  });

  it("makes its own from the configuration and destroys it after the read, also when the read fails", async () => {
    const destroy = vi.spyOn(SecretsManagerClient.prototype, "destroy");
    const made = await withSecretsClient(config, undefined, async (c) => c);
    expect(await made.config.region()).toBe("eu-west-3");
    expect((await made.config.endpoint?.())?.hostname).toBe("127.0.0.1");
    expect(destroy).toHaveBeenCalledTimes(1);
    await expect(
      withSecretsClient(config, undefined, async () => {
        throw new Error("denied");
      }),
    ).rejects.toThrow("denied");
    expect(destroy).toHaveBeenCalledTimes(2);
  });
});
