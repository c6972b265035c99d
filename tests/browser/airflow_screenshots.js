// Screenshots of the textflow_pipeline grid and its trigger form, and which of the expected task ids and form
// fields they hold (task ids: visible on the grid; form fields: present in the open dialog, every section opened):
// node airflow_screenshots.js <base url> <out dir> '<{"tasks": [...], "fields": [...], "sections": [...], "shown": "..."}>'
// ("shown": the section open in the form's screenshot)
const { launch, visible } = require('./browser');

(async () => {
  const [base, out, expectedJson] = process.argv.slice(2);
  const expected = JSON.parse(expectedJson);
  const browser = await launch();
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(`${base}/dags/textflow_pipeline`, { waitUntil: 'networkidle', timeout: 60000 });
  await page.getByText('register', { exact: true }).first().waitFor({ timeout: 30000 });
  await page.screenshot({ path: `${out}/airflow-grid.png` });
  const gridTasks = await visible(page, expected.tasks, { exact: true });
  await page.getByRole('button', { name: /trigger/i }).first().click();
  const dialog = page.getByRole('dialog');
  const section = (name) => dialog.getByRole('button', { name, exact: true });
  await section(expected.sections[0]).waitFor({ timeout: 30000 });
  // the form's fields are grouped in sections, one open at a time: open each to see every field
  let formPage = '';
  for (const name of expected.sections) {
    if (await section(name).getAttribute('aria-expanded') === 'false') await section(name).click();
    await page.waitForTimeout(700);
    formPage += await page.content();
  }
  const formFields = expected.fields.filter((field) => formPage.includes(field));
  if (await section(expected.shown).getAttribute('aria-expanded') === 'false') await section(expected.shown).click();
  await page.waitForTimeout(1500); // let it finish unfolding
  await page.screenshot({ path: `${out}/airflow-trigger-form.png` });
  console.log(JSON.stringify({ grid_tasks: gridTasks, form_fields: formFields }));
  await browser.close();
})().catch((error) => { console.error(error); process.exit(1); });
