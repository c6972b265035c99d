// What the screenshot scripts share: Debian's chromium, headless, through playwright-core (which never downloads a
// browser of its own), and which of some texts a page shows.
const { chromium } = require('playwright-core');

function launch() {
  return chromium.launch({ executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'] });
}

async function visible(page, texts, options = {}) {
  const seen = [];
  for (const text of texts) {
    const matches = page.getByText(text, options);
    for (let index = 0; index < await matches.count(); index += 1) {
      if (await matches.nth(index).isVisible()) { seen.push(text); break; }
    }
  }
  return seen;
}

module.exports = { launch, visible };
