import { startFakeBedrock } from "./fake-bedrock.ts";
import { startFakeOpenAI } from "./fake-openai.ts";

// Fake OpenAI, fake Bedrock and a fake OpenAI-compatible upstream for trying the sandbox's providers offline:
//   node test/support/start-fakes.ts     then start the sandbox with the variables it prints.

const [openai, bedrock, studio] = await Promise.all([
  startFakeOpenAI(),
  startFakeBedrock(),
  startFakeOpenAI(),
]);
const upstreams = [
  {
    name: "studio",
    base_url: studio.baseURL,
    api_key_env: "STUDIO_API_KEY",
    models: [
      {
        id: "studio-xl",
        upstream_id: "sdxl-1.0",
        sizes: ["512x512", "1024x1024"],
        price_per_image_usd: 0.002,
      },
    ],
  },
];
process.stdout.write(`Fake OpenAI, Bedrock and an OpenAI-compatible upstream are running. Start the sandbox with:

  OPENAI_API_KEY=sk-openai-demo OPENAI_BASE_URL=${openai.baseURL} \\
  BEDROCK_REGION=us-east-1 AWS_ENDPOINT_URL_BEDROCK_RUNTIME=${bedrock.endpoint} \\
  STUDIO_API_KEY=sk-studio-demo OPENAI_COMPATIBLE_UPSTREAMS='${JSON.stringify(upstreams)}' \\
  npm start

`);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    void Promise.all([openai.close(), bedrock.close(), studio.close()]).then(() => process.exit(0));
  });
}
