// The terminal page of `vmctl web`: xterm.js on one WebSocket to vmctl.
//
// The page's token is the link's fragment (after #): browsers never send it in a
// request, so it reaches vmctl only as this page's first message. It is not the VM's
// secret: it opens one sandboxed shell, and nothing once vmctl web stops. The page
// keeps it for this tab only (a reload works) and takes it out of the address bar,
// so the history does not keep it. Binary messages are terminal bytes both ways;
// text messages are JSON control (see host/vmctl/web.c).
'use strict';

(function () {
  const stateEl = document.getElementById('state');
  const token = decodeURIComponent(location.hash.slice(1)) ||
                sessionStorage.getItem('vmctl-token') || '';
  if (location.hash) {
    sessionStorage.setItem('vmctl-token', token);
    history.replaceState(null, '', location.pathname + location.search);
  }
  const term = new Terminal({ cursorBlink: true, scrollback: 5000,
    theme: { background: '#1d1f21', foreground: '#c5c8c6' },
    fontFamily: 'DejaVu Sans Mono, Liberation Mono, monospace', fontSize: 14 });
  const fit = new FitAddon.FitAddon();
  const encoder = new TextEncoder();
  let ready = false;
  let ended = false;   // exit or error said why; the close adds nothing

  // The state is in the page for people and in data-state for scripts (tests/web).
  function setState(name, text) {
    stateEl.className = name;
    stateEl.textContent = text;
    document.body.dataset.state = name;
  }

  term.loadAddon(fit);
  term.open(document.getElementById('terminal'));
  fit.fit();
  window.vmctlTerminal = term;

  const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') +
                           location.host + '/term', 'vmctl-term');
  ws.binaryType = 'arraybuffer';

  function control(msg) {
    if (ws.readyState === WebSocket.OPEN)
      ws.send(JSON.stringify(msg));
  }

  ws.onopen = function () {
    setState('connecting', 'starting a shell');
    control({ type: 'auth', token: token, rows: term.rows, cols: term.cols });
  };

  ws.onmessage = function (ev) {
    if (typeof ev.data !== 'string') {
      term.write(new Uint8Array(ev.data));
      return;
    }
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch (e) {
      return;
    }
    if (msg.type === 'ready') {
      ready = true;
      setState('connected', 'connected');
      term.focus();
    } else if (msg.type === 'exit') {
      ready = false;
      ended = true;
      setState('closed', 'the shell exited with code ' + msg.code + ' (reload for a new one)');
    } else if (msg.type === 'error') {
      ready = false;
      ended = true;
      setState('error', msg.message);
    }
  };

  ws.onclose = function (ev) {
    ready = false;
    if (ended)
      return;
    if (ev.reason)
      setState('error', ev.reason);
    else
      setState('closed', 'disconnected: vmctl web stopped or the page was refused ' +
               '(reload to try again)');
  };

  term.onData(function (data) {
    if (ready)
      ws.send(encoder.encode(data));
  });
  term.onBinary(function (data) {
    if (!ready)
      return;
    const bytes = new Uint8Array(data.length);
    for (let i = 0; i < data.length; i++)
      bytes[i] = data.charCodeAt(i) & 0xff;
    ws.send(bytes);
  });
  // xterm reports its new size after fit(); the shell's PTY follows.
  term.onResize(function (size) {
    control({ type: 'resize', rows: size.rows, cols: size.cols });
  });
  window.addEventListener('resize', function () {
    fit.fit();
  });
}());
