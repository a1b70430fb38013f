// web-test.js - the page of `vmctl web` in Debian's headless Chromium, as TAP cases.
//
// Environment: LINK (the link vmctl web printed), HTTP_PORT, SHOT (a PNG path, or
// empty for none), CHROMIUM. Prints "ok N - ..." lines; run.sh prints the plan and
// the cases around these.
'use strict';

const http = require('http');
const { chromium } = require('playwright-core');
const { timeKeys } = require('./typing.js');

const link = process.env.LINK;
const httpPort = Number(process.env.HTTP_PORT);
let n = Number(process.env.FIRST || 1);
let failures = 0;

function report(ok, name, why) {
  console.log(`${ok ? 'ok' : 'not ok'} ${n++} - ${name}`);
  if (!ok) {
    failures++;
    console.log(`# ${why}`);
  }
}

async function check(name, fn) {
  try {
    await fn();
    report(true, name);
  } catch (e) {
    report(false, name, String(e && e.stack || e).split('\n').slice(0, 3).join(' | '));
  }
}

function assert(cond, why) {
  if (!cond)
    throw new Error(why);
}

// The terminal's text, line by line, as xterm holds it.
function screen(page) {
  return page.evaluate(() => {
    const b = window.vmctlTerminal.buffer.active;
    const lines = [];
    for (let i = 0; i < b.length; i++)
      lines.push(b.getLine(i).translateToString(true));
    return lines.join('\n');
  });
}

// The page's CSP forbids eval, which page.waitForFunction needs: poll instead.
async function waitState(page, state, ms) {
  const end = Date.now() + ms;
  while (await page.evaluate(() => document.body.dataset.state) !== state) {
    if (Date.now() > end)
      throw new Error(`the page never reached state "${state}": "${await page.textContent('#state')}"`);
    await page.waitForTimeout(50);
  }
}

async function waitFor(page, what, pred, ms = 20000) {
  const end = Date.now() + ms;
  for (;;) {
    const text = await screen(page);
    if (pred(text))
      return text;
    if (Date.now() > end)
      throw new Error(`timed out waiting for ${what}; the screen:\n${text.slice(-400)}`);
    await page.waitForTimeout(100);
  }
}

// Run a command at the prompt and return the line its output starts with a marker.
async function run(page, command, marker) {
  await page.keyboard.type(command);
  await page.keyboard.press('Enter');
  const text = await waitFor(page, marker, (t) => t.split('\n').some((l) => l.startsWith(marker)));
  return text.split('\n').filter((l) => l.startsWith(marker)).pop();
}

// An upgrade request as another web site's page would make it.
function foreignUpgrade(origin) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: httpPort, path: '/term', headers: {
      Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13',
      'Sec-WebSocket-Key': 'AAAAAAAAAAAAAAAAAAAAAA==', 'Sec-WebSocket-Protocol': 'vmctl-term',
      Origin: origin } });
    req.on('upgrade', (res, socket) => { socket.destroy(); resolve(101); });
    req.on('response', (res) => { res.resume(); resolve(res.statusCode); });
    req.on('error', reject);
    req.end();
  });
}

async function main() {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu'] });
  const page = await browser.newPage({ viewport: { width: 900, height: 500 } });
  const base = link.replace(/#.*/, '');
  let latencies = [];

  await check('the page connects and shows "connected"', async () => {
    await page.goto(link);
    await waitState(page, 'connected', 30000);
    const text = await page.textContent('#state');
    assert(text === 'connected', `the state reads "${text}"`);
  });

  await check('a typed command runs in the sandbox and its output is on the page', async () => {
    const word = `hello-${Math.floor(Math.random() * 1e6)}`;
    await page.click('#terminal');
    const line = await run(page, `echo ${word} && id -u`, word);
    assert(line === word, `read back "${line}"`);
  });

  await check('the guest follows a resize of the window (stty size)', async () => {
    await page.setViewportSize({ width: 640, height: 360 });
    await page.waitForTimeout(300);
    const size = await page.evaluate(() => [window.vmctlTerminal.rows, window.vmctlTerminal.cols]);
    const line = await run(page, "stty size | sed 's/^/size: /'", 'size: ');
    assert(line === `size: ${size[0]} ${size[1]}`, `xterm has ${size}, the guest says "${line}"`);
  });

  await check('keystroke-to-echo latency is measured in the page', async () => {
    latencies = await timeKeys(page, 30);
    assert(latencies.length === 30, 'no measurement');
    console.log(`# keystroke-to-echo latency over 30 keys: median ${latencies[15].toFixed(1)} ms, ` +
                `max ${latencies[29].toFixed(1)} ms`);
  });

  if (process.env.SHOT) {
    await check(`a screenshot is written to ${process.env.SHOT}`, async () => {
      await page.setViewportSize({ width: 800, height: 360 });
      await page.waitForTimeout(300);
      await page.keyboard.press('Control+L');
      await run(page, 'echo "hello from $(uname -n)"; uname -sr; ls /', 'hello from');
      await page.waitForTimeout(300);
      await page.screenshot({ path: process.env.SHOT });
    });
  }

  await check('the shell exiting closes the page with its code', async () => {
    await page.keyboard.type('exit 3');
    await page.keyboard.press('Enter');
    await waitState(page, 'closed', 10000);
    const text = await page.textContent('#state');
    assert(/code 3/.test(text), `the state reads "${text}"`);
  });

  for (const [name, url, want] of [
    ['a link without the token gets an error on the page', base,
     /^No token: open the link vmctl web printed/],
    ['a wrong token gets an error on the page', base + '#' + '0'.repeat(64),
     /^Wrong token: open the link this vmctl web printed/]]) {
    await check(name, async () => {
      const p = await browser.newPage();
      await p.goto(url);
      await waitState(p, 'error', 10000);
      const text = await p.textContent('#state');
      assert(want.test(text), `the state reads "${text}"`);
      const shown = (await screen(p)).trim();
      assert(shown === '', `the terminal shows "${shown}"`);
      await p.close();
    });
  }

  await check('an upgrade from another Origin is refused with 403', async () => {
    const evil = await foreignUpgrade('http://evil.example');
    const near = await foreignUpgrade(`http://127.0.0.1:${httpPort + 1}`);
    assert(evil === 403 && near === 403, `got ${evil} and ${near}`);
  });

  await browser.close();
  if (process.env.LATENCY_OUT)
    require('fs').writeFileSync(process.env.LATENCY_OUT, latencies.map(String).join('\n') + '\n');
  process.exitCode = failures ? 1 : 0;
}

main().catch((e) => {
  console.log(`not ok ${n} - the browser could not be driven`);
  console.log(`# ${String(e && e.stack || e).split('\n')[0]}`);
  process.exit(1);
});
