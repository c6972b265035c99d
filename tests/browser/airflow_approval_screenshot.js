// A screenshot of a waiting approval step (its "Required Actions" page in the Airflow UI), and which of the
// expected texts the page shows:
// node airflow_approval_screenshot.js <page url> <out png> '<["text", ...]>'
const { launch, visible } = require('./browser');

(async () => {
  const [url, out, expectedJson] = process.argv.slice(2);
  const expected = JSON.parse(expectedJson);
  const browser = await launch();
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.goto(url, { waitUntil: 'networkidle', timeout: 60000 });
  await page.getByText(expected[0]).first().waitFor({ timeout: 30000 });
  await page.waitForTimeout(1500); // the rendered Markdown table settles
  await page.screenshot({ path: out });
  const shown = await visible(page, expected);
  console.log(JSON.stringify({ shown }));
  await browser.close();
})().catch((error) => { console.error(error); process.exit(1); });
