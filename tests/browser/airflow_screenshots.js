// Screenshots of the textflow_pipeline grid and its trigger form: node airflow_screenshots.js <base url> <out dir>
const { chromium } = require('playwright-core');
(async () => {
  const [base, out] = process.argv.slice(2);
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'] });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(`${base}/dags/textflow_pipeline`, { waitUntil: 'networkidle', timeout: 60000 });
  await page.getByText('register').first().waitFor({ timeout: 30000 });
  await page.screenshot({ path: `${out}/airflow-grid.png` });
  const gridPage = await page.content();
  await page.getByRole('button', { name: /trigger/i }).first().click();
  await page.getByText("model.type").first().waitFor({ timeout: 30000 });
  await page.waitForTimeout(1500); // let the dialog finish fading in
  await page.screenshot({ path: `${out}/airflow-trigger-form.png` });
  const formPage = await page.content();
  const taskIds = ['prepare_workspace', 'download', 'validate', 'clean', 'tokenize', 'embed', 'train', 'evaluate', 'register'];
  const fields = ['dataset.name', 'model.type', 'model.embedding_init', 'train.epochs', 'train.learning_rate'];
  console.log(JSON.stringify({
    grid_tasks: taskIds.filter((id) => gridPage.includes(id)),
    form_fields: fields.filter((field) => formPage.includes(field)),
  }));
  await browser.close();
})().catch((error) => { console.error(error); process.exit(1); });
