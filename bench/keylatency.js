// keylatency.js - keystroke-to-echo latency of `vmctl web`'s page, for vmbench.
//
// Environment: LINK (the link vmctl web printed), CHROMIUM (the browser), KEYS (how
// many keys, default 50). Opens the page in headless Chromium, waits for the shell's
// prompt, then times KEYS keystrokes to their echo (tests/web/typing.js). Prints one line,
// "keys N median MS p90 MS max MS", or "failed: WHY" with exit status 1.
'use strict';

const { chromium } = require('playwright-core');
const { timeKeys } = require('../tests/web/typing.js');

async function main() {
  const keys = Number(process.env.KEYS || 50);
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage({ viewport: { width: 900, height: 500 } });
    await page.goto(process.env.LINK);
    // The page's CSP forbids eval (waitForFunction): poll.
    const end = Date.now() + 60000;
    for (;;) {
      const ready = await page.evaluate(() => {
        if (document.body.dataset.state !== 'connected')
          return false;
        const b = window.vmctlTerminal.buffer.active;
        return /[$#] $/.test(b.getLine(b.baseY + b.cursorY).translateToString(false).trimEnd() + ' ');
      });
      if (ready)
        break;
      if (Date.now() > end)
        throw new Error('no shell prompt on the page within 60 s');
      await page.waitForTimeout(50);
    }
    const times = await timeKeys(page, keys);
    const at = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
    console.log(`keys ${times.length} median ${at(0.5).toFixed(2)} p90 ${at(0.9).toFixed(2)} ` +
                `max ${times[times.length - 1].toFixed(2)}`);
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.log(`failed: ${String(e && e.message || e).split('\n')[0]}`);
  process.exit(1);
});
