// typing.js - keystroke-to-echo timing in the page of `vmctl web`, shared by
// tests/web/web-test.js and bench/keylatency.js.
'use strict';

// Type `count` x's into the terminal one at a time (as a keypress reaches it:
// xterm's input) and return each one's milliseconds until its echo is parsed onto
// the cursor's line: the WebSocket to vmctl web, vmd, the guest's PTY and back.
// The line is emptied again (Ctrl-U) at the end. Sorted, shortest first.
async function timeKeys(page, count) {
  const times = await page.evaluate(async (n) => {
    const t = window.vmctlTerminal;
    const out = [];
    const typed = (k) => {
      const b = t.buffer.active;
      return b.getLine(b.baseY + b.cursorY).translateToString(true).endsWith('x'.repeat(k));
    };
    for (let i = 0; i < n; i++) {
      const echoed = new Promise((resolve) => {
        const d = t.onWriteParsed(() => {
          if (typed(i + 1)) {
            d.dispose();
            resolve();
          }
        });
      });
      const t0 = performance.now();
      t.input('x', true);
      await echoed;
      out.push(performance.now() - t0);
    }
    t.input('\x15', true);
    return out;
  }, count);
  return times.sort((a, b) => a - b);
}

module.exports = { timeKeys };
