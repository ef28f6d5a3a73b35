import type { Browser, Page } from "playwright-core";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, screenshot } from "../support/browser.ts";
import { httpClient } from "../support/http.ts";
import { type SandboxProcess, startSandboxProcess } from "../support/sandbox-process.ts";

// The playground shows partial images as they come (partial_images, GET /v1/jobs/{id}/events), in Chromium
// against `npm start` with the placeholder, paced slowly enough that each preview can be seen.

const paceMs = 700;

async function raw(url: string) {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return sharp(Buffer.from(await res.arrayBuffer()))
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
}

/** Mean absolute difference per channel between two images of the same size. */
async function distance(a: string, b: string) {
  const [x, y] = await Promise.all([raw(a), raw(b)]);
  expect([x.info.width, x.info.height]).toEqual([y.info.width, y.info.height]);
  let sum = 0;
  for (let i = 0; i < x.data.length; i++) sum += Math.abs((x.data[i] as number) - (y.data[i] as number));
  return sum / x.data.length;
}

describe("playground previews in Chromium", () => {
  let sandbox: SandboxProcess;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    [sandbox, browser] = await Promise.all([
      startSandboxProcess({ PLACEHOLDER_PARTIAL_INTERVAL_MS: String(paceMs) }),
      launchChromium(),
    ]);
    page = await (await browser.newContext({ viewport: { width: 1100, height: 900 } })).newPage();
    page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
    page.on("console", (msg) => {
      if (msg.type() === "error") problems.push(msg.text());
    });
    await page.goto(`${sandbox.url}/`);
    await page.getByRole("textbox", { name: "API key" }).fill(sandbox.key);
    await page.getByRole("button", { name: "Save key" }).click();
    await page.getByText("Key saved in this browser. Ready.").waitFor();
  });
  afterAll(async () => {
    await browser?.close();
    await sandbox?.stop();
  });

  it("shows each partial image on the job's card as it comes, then the image", async () => {
    await page.getByRole("textbox", { name: "Prompt" }).fill("a harbour at night");
    await page.getByLabel("Size or aspect ratio").selectOption("size:1024x1024");
    await page.getByLabel("Previews").selectOption("2");
    await page.getByRole("button", { name: "Generate", exact: true }).click();
    const card = page.locator("#generate-results .card").first();

    // The first preview, loaded by the browser (its presigned URL passes the CSP), while the job still runs.
    const first = card.locator('img.partial[data-partial-index="0"]');
    await first.waitFor();
    expect(await card.getAttribute("data-status")).toBe("running");
    await expect.poll(() => first.evaluate((el) => (el as { naturalWidth: number }).naturalWidth)).toBe(1024);
    const firstUrl = (await first.getAttribute("src")) ?? "";
    expect(firstUrl).toMatch(/partial-0-0\.png\?X-Amz-/);
    await screenshot(page, "stream-1-preview");

    // The second replaces it, still before the end.
    const second = card.locator('img.partial[data-partial-index="1"]');
    await second.waitFor();
    expect(await card.getAttribute("data-status")).toBe("running");
    expect(await card.locator("img.partial").count()).toBe(1);
    const secondUrl = (await second.getAttribute("src")) ?? "";

    // Then the image itself, and no preview.
    await card.locator(".badge.succeeded").waitFor();
    expect(await card.locator("img.partial").count()).toBe(0);
    const id = await card.getAttribute("data-job-id");
    const job = (await httpClient(sandbox.url, sandbox.key).get(`/v1/jobs/${id}`)).body;
    expect(job.input.partial_images).toBe(2);
    const finalUrl = job.output.images[0].url as string;
    // Presigned per read: the same object, another signature.
    const shown = (await card.locator("img").first().getAttribute("src")) ?? "";
    expect(shown.split("?")[0]).toBe(finalUrl.split("?")[0]);
    expect(shown).toMatch(/output-0\.png\?X-Amz-/);

    // The previews are the image being refined: each closer to it than the one before.
    const [d0, d1] = await Promise.all([distance(firstUrl, finalUrl), distance(secondUrl, finalUrl)]);
    expect(d0).toBeGreaterThan(d1);
    expect(d1).toBeGreaterThan(0);
    await screenshot(page, "stream-2-image");
    expect(problems).toEqual([]);
  });
});
