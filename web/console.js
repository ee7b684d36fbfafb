// FileOrganizer console: plain JavaScript over the public API (REST and Socket.IO), no framework.
'use strict';

(() => {
  const ENDED = ['completed', 'failed', 'cancelled', 'rolled_back'];
  const STORAGE_KEY = 'fileorganizer.session';
  const $ = (id) => document.getElementById(id);

  /** { accessToken, refreshToken, user } kept for this browser tab only. */
  let session = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || 'null');
  let socket = null;
  let current = null; // the operation shown in the "Operation" panel
  let currentSeq = null;
  let pollTimer = null;

  function say(text, ok = false) {
    $('message').textContent = text;
    $('message').className = ok ? 'ok' : '';
  }

  function saveSession(next) {
    session = next;
    if (next) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(next));
    else sessionStorage.removeItem(STORAGE_KEY);
  }

  class ApiError extends Error {
    constructor(status, body) {
      const message = body && body.message ? [].concat(body.message).join('; ') : `HTTP ${status}`;
      super(message);
      this.status = status;
      this.body = body;
    }
  }

  async function request(method, path, body, retry = true) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (session) headers.Authorization = `Bearer ${session.accessToken}`;
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
    if (response.status === 401 && retry && session && (await refreshTokens())) {
      return request(method, path, body, false);
    }
    const text = await response.text();
    const data = text ? JSON.parse(text) : null;
    if (response.status === 401 && session) signedOut('Your session ended; sign in again.');
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  async function refreshTokens() {
    try {
      const response = await fetch('/api/v1/auth/refresh', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ refreshToken: session.refreshToken }),
      });
      if (!response.ok) return false;
      const tokens = await response.json();
      saveSession({ accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, user: tokens.user });
      return true;
    } catch {
      return false;
    }
  }

  // ---- signing in and out ------------------------------------------------------------------

  async function authenticate(kind) {
    const form = $('sign-in-form');
    const email = form.elements.email.value.trim();
    const password = form.elements.password.value;
    if (!email || !password) {
      say('Enter your email and password.');
      return;
    }
    try {
      const tokens = await request('POST', `/api/v1/auth/${kind}`, { email, password }, false);
      saveSession({ accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, user: tokens.user });
      form.elements.password.value = '';
      say(kind === 'signup' ? 'Account created.' : 'Signed in.', true);
      await showConsole();
    } catch (error) {
      say(error.message);
    }
  }

  function signedOut(text) {
    saveSession(null);
    if (socket) socket.disconnect();
    socket = null;
    stopPolling();
    stopListUpdates();
    stopWatchesRefresh();
    current = null;
    reportFor = null;
    $('report').hidden = true;
    $('console').hidden = true;
    $('account').hidden = true;
    // Nothing of the last user stays on the page, hidden or not.
    $('whoami').textContent = '';
    $('open-queues').hidden = true;
    $('operations').replaceChildren();
    $('watches').replaceChildren();
    $('sign-in').hidden = false;
    $('current').hidden = true;
    if (text) say(text);
  }

  async function signOut() {
    const refreshToken = session && session.refreshToken;
    if (refreshToken) await request('POST', '/api/v1/auth/logout', { refreshToken }, false).catch(() => undefined);
    signedOut('Signed out.');
  }

  async function showConsole() {
    $('sign-in').hidden = true;
    $('console').hidden = false;
    $('account').hidden = false;
    const me = await request('GET', '/api/v1/auth/me');
    session.user = me;
    saveSession(session);
    $('whoami').textContent = `${me.email}${me.role === 'admin' ? ' (admin)' : ''}`;
    $('open-queues').hidden = me.role !== 'admin';
    showFolder(me);
    startListUpdates();
    connectSocket();
    await loadOperations();
    await loadWatches();
    startWatchesRefresh();
    if (new URLSearchParams(location.search).get('next') === 'queues' && me.role === 'admin') await openQueues();
  }

  /**
   * Where the user's files go, said without the server's host path (the API does not give it):
   * the storage root setting and the user's id, then what the top of the folder holds, whose
   * folders the "Folder" field offers.
   */
  async function showFolder(me) {
    $('folder-path').textContent = `STORAGE_LOCAL_ROOT/${me.id}`;
    $('folder-contents').textContent = '';
    try {
      const page = await request('GET', '/api/v1/files?limit=200');
      const folders = page.items.filter((entry) => entry.type === 'folder').map((entry) => entry.path);
      const options = folders.map((name) => Object.assign(document.createElement('option'), { value: name }));
      $('folder-names').replaceChildren(...options);
      $('folder-contents').textContent =
        page.total === 0
          ? 'It is empty: put files in a folder inside it (for example inbox), then organize that folder.'
          : page.total > page.items.length
            ? `It holds ${page.total} folders and files at the top.`
            : `It holds ${plural(folders.length, 'folder')} and ${plural(page.total - folders.length, 'file')} at the top.`;
    } catch (error) {
      say(error.message);
    }
  }

  const plural = (n, noun) => `${n} ${noun}${n === 1 ? '' : 's'}`;

  /** The queue board is a page: an admin gets a short-lived cookie for it, then goes there. */
  async function openQueues() {
    try {
      const opened = await request('POST', '/api/v1/admin/session');
      location.href = opened.url;
    } catch (error) {
      say(error.message);
    }
  }

  // ---- live progress: Socket.IO when the server has it, polling otherwise -------------------

  /** True when this server runs Socket.IO: engine.io opens a polling handshake; without it, a 404. */
  async function socketServerAvailable() {
    try {
      const response = await fetch('/socket.io/?EIO=4&transport=polling', { cache: 'no-store' });
      return response.ok;
    } catch {
      return false;
    }
  }

  async function connectSocket() {
    if (socket || typeof window.io !== 'function' || !(await socketServerAvailable())) {
      setLiveMode();
      return;
    }
    if (socket || !session) return;
    socket = window.io('/operations', {
      auth: (callback) => callback({ token: session ? session.accessToken : '' }),
      transports: ['websocket'],
      reconnectionAttempts: 5,
    });
    socket.on('connect', () => {
      setLiveMode();
      // A new connection has no subscriptions: follow the current operation and the list again.
      followed.clear();
      if (current && !ENDED.includes(current.status)) watch(current.id);
      loadOperations();
    });
    socket.on('connect_error', async () => {
      // An expired access token: refresh it and let the next attempt use the new one.
      if (session) await refreshTokens();
      setLiveMode();
    });
    socket.on('disconnect', () => {
      followed.clear();
      setLiveMode();
    });
    const onEvent = (name) => (payload) => {
      onListEvent(name, payload);
      if (!current || payload.operationId !== current.id) return;
      if (currentSeq !== null && typeof payload.seq === 'number' && payload.seq > currentSeq + 1) {
        // A missed event: the row is the truth.
        currentSeq = payload.seq;
        refreshCurrent();
        return;
      }
      if (typeof payload.seq === 'number') currentSeq = payload.seq;
      const next = { ...current };
      if (payload.progress) next.progress = payload.progress;
      if (payload.status) next.status = payload.status;
      if (name === 'operation.failed') {
        next.status = 'failed';
        next.error = payload.error;
      }
      render(next);
      if (name === 'operation.completed' || name === 'operation.failed') {
        refreshCurrent();
        loadOperations();
      }
    };
    for (const name of ['operation.status', 'operation.progress', 'operation.completed', 'operation.failed']) {
      socket.on(name, onEvent(name));
    }
  }

  // ---- the operations list, kept live ----------------------------------------------------------

  /** Active operations of the list that the socket follows besides the current one. */
  const followed = new Set();
  /** The list as last loaded, by id. */
  const listed = new Map();
  const LIST_POLL_MS = 3000;
  /** With a socket, events keep the listed operations live; a slow poll still finds new ones. */
  const LIST_POLLS_PER_SOCKET_POLL = 4;
  let listTimer = null;
  let listTicks = 0;
  let listReload = null;

  function startListUpdates() {
    stopListUpdates();
    listTicks = 0;
    listTimer = setInterval(() => {
      listTicks += 1;
      if (!socketLive() || listTicks % LIST_POLLS_PER_SOCKET_POLL === 0) loadOperations();
    }, LIST_POLL_MS);
  }

  function stopListUpdates() {
    if (listTimer) clearInterval(listTimer);
    if (listReload) clearTimeout(listReload);
    listTimer = null;
    listReload = null;
    followed.clear();
    listed.clear();
  }

  /** Subscribes to the listed operations that are still active (the server caps subscriptions at 100). */
  function followList(items) {
    if (!socketLive()) return;
    for (const operation of items) {
      if (ENDED.includes(operation.status) || followed.has(operation.id)) continue;
      if (current && current.id === operation.id) continue; // watch() follows it
      followed.add(operation.id);
      socket.emit('subscribe', { operationId: operation.id });
    }
  }

  /** A status change reloads the list (once for a burst of them); progress updates the row in place. */
  function onListEvent(name, payload) {
    const operation = listed.get(payload.operationId);
    if (!operation) return;
    if (name === 'operation.progress') {
      const next = { ...operation, progress: payload.progress };
      listed.set(operation.id, next);
      const row = Array.from($('operations').rows).find((tr) => tr.dataset.operationId === operation.id);
      const progressCell = row && row.querySelector('[data-testid="progress"]');
      if (progressCell) progressCell.textContent = `${percent(next)}%`;
      return;
    }
    if (name !== 'operation.status' && followed.has(operation.id) && (!current || current.id !== operation.id)) {
      // Ended: nothing more will come.
      followed.delete(operation.id);
      socket.emit('unsubscribe', { operationId: operation.id });
    }
    if (listReload) clearTimeout(listReload);
    listReload = setTimeout(() => {
      listReload = null;
      loadOperations();
    }, 200);
  }

  function socketLive() {
    return Boolean(socket && socket.connected);
  }

  function setLiveMode() {
    $('live-mode').textContent = socketLive() ? 'live over Socket.IO' : 'updated by polling';
  }

  function stopPolling() {
    if (pollTimer) clearTimeout(pollTimer);
    pollTimer = null;
  }

  function poll(id) {
    stopPolling();
    pollTimer = setTimeout(async () => {
      if (!current || current.id !== id) return;
      await refreshCurrent();
      if (current && current.id === id && !ENDED.includes(current.status)) poll(id);
      else loadOperations();
    }, 250);
  }

  /** Follows one operation: subscribe over the socket (the ack carries the snapshot), else poll. */
  function watch(id) {
    currentSeq = null;
    setLiveMode();
    if (!socketLive()) {
      poll(id);
      return;
    }
    socket.timeout(5000).emit('subscribe', { operationId: id }, (error, ack) => {
      if (error || !ack || !ack.ok) {
        poll(id);
        return;
      }
      stopPolling();
      if (current && current.id === id) render(ack.operation);
      if (ENDED.includes(ack.operation.status)) loadOperations();
    });
  }

  async function refreshCurrent() {
    if (!current) return;
    try {
      render(await request('GET', `/api/v1/operations/${current.id}`));
    } catch (error) {
      say(error.message);
    }
  }

  // ---- the operation panel ---------------------------------------------------------------------

  /** Overall percent, weighted by phase and never lower than already shown (progress.js). */
  const percent = window.FileOrganizerProgress.createTracker();

  function render(operation) {
    if (current && socket && current.id !== operation.id) {
      // The one shown before: still followed for the list while it runs, let go once it ended.
      if (ENDED.includes(current.status)) socket.emit('unsubscribe', { operationId: current.id });
      else followed.add(current.id);
    }
    current = operation;
    $('current').hidden = false;
    $('current-id').textContent = operation.id;
    $('current-kind').textContent =
      `${operation.type}${operation.dryRun ? ' (dry run)' : ''} of "${operation.rootPath || '.'}"`;
    $('current-status').textContent = operation.status;
    $('current-phase').textContent = operation.progress ? operation.progress.phase : '';
    const value = percent(operation);
    const bar = $('current-bar');
    bar.setAttribute('aria-valuenow', String(value));
    bar.className = `bar${operation.status === 'failed' ? ' failed' : ENDED.includes(operation.status) ? ' done' : ''}`;
    $('current-fill').style.width = `${value}%`;
    const p = operation.progress || {};
    $('current-counts').textContent =
      `${p.filesProcessed ?? 0} of ${p.filesTotal ?? 0} files processed, ${p.filesScanned ?? 0} scanned, ` +
      `${p.duplicatesFound ?? 0} duplicates, ${p.errors ?? 0} errors` +
      (operation.error ? ` — ${operation.error.message}` : '');
    const ended = ENDED.includes(operation.status);
    $('cancel').disabled = ended;
    $('show-report').disabled = !ended;
    $('apply-plan').hidden = !(operation.type === 'organize' && operation.dryRun);
    $('apply-plan').disabled = operation.status !== 'completed';
    $('roll-back').hidden = operation.dryRun || operation.type === 'rollback';
    $('roll-back').disabled = !['completed', 'failed', 'cancelled'].includes(operation.status);
    // Once it ends, what it did (or planned) is what the user wants to see.
    if (ended && reportFor !== operation.id) showReport();
  }

  function open(operation) {
    $('report').hidden = true;
    reportFor = null;
    render(operation);
    if (!ENDED.includes(operation.status)) watch(operation.id);
  }

  async function startOrganize(event) {
    event.preventDefault();
    const form = $('organize-form');
    try {
      const operation = await request('POST', '/api/v1/operations', {
        type: 'organize',
        storage: 'local',
        rootPath: form.elements.rootPath.value.trim(),
        dryRun: form.elements.dryRun.checked,
      });
      say(`Started ${operation.dryRun ? 'a dry run' : 'organizing'}.`, true);
      open(operation);
      loadOperations();
    } catch (error) {
      say(error.message);
    }
  }

  async function follow(action) {
    if (!current) return;
    try {
      const operation = await request('POST', `/api/v1/operations/${current.id}/${action}`);
      say(
        action === 'cancel'
          ? 'Cancelling.'
          : `Started ${operation.type === 'rollback' ? 'the rollback' : 'applying the plan'}.`,
        true,
      );
      open(operation);
      loadOperations();
    } catch (error) {
      say(error.message);
    }
  }

  const bytes = (n) =>
    n >= 1 << 30
      ? `${(n / (1 << 30)).toFixed(1)} GiB`
      : n >= 1 << 20
        ? `${(n / (1 << 20)).toFixed(1)} MiB`
        : n >= 1024
          ? `${(n / 1024).toFixed(1)} KiB`
          : `${n} B`;

  function cell(row, text, numeric = false) {
    const td = document.createElement('td');
    td.textContent = text;
    if (numeric) td.className = 'num';
    row.appendChild(td);
    return td;
  }

  /** The operation whose report is shown or on its way, and the pages of its lists loaded so far. */
  let reportFor = null;
  /** Which load of the report is the latest: an older one still on its way (a second click) is dropped. */
  let reportRun = 0;
  let planPage = 0;
  let groupPage = 0;
  const PLAN_PAGE = 100;
  const GROUP_PAGE = 20;

  /** Still the operation on screen: an answer about another one (the user opened a new one) is dropped. */
  const stillShowing = (operation, run) =>
    Boolean(current && current.id === operation.id && reportFor === operation.id && run === reportRun);

  async function showReport() {
    if (!current) return;
    const operation = current;
    reportFor = operation.id;
    reportRun += 1;
    const run = reportRun;
    try {
      const report = await request('GET', `/api/v1/operations/${operation.id}/report`);
      const totals = await totalsText(operation, report);
      if (!stillShowing(operation, run)) return;
      const rows = $('report-rows');
      rows.replaceChildren();
      for (const [category, counts] of Object.entries(report.byCategory).sort()) {
        const row = document.createElement('tr');
        cell(row, category);
        cell(row, String(counts.files), true);
        cell(row, bytes(counts.bytes), true);
        rows.appendChild(row);
      }
      $('report-totals').textContent = totals;
      $('report').hidden = false;
      planPage = 0;
      groupPage = 0;
      $('plan-rows').replaceChildren();
      $('duplicate-groups').replaceChildren();
      await loadPlan(operation, report, run);
      if (operation.type === 'organize' || operation.type === 'find_similar_images') {
        await loadGroups(operation, report, run);
      } else $('duplicates').hidden = true;
    } catch (error) {
      say(error.message);
    }
  }

  /** "12 planned, nothing moved (dry run)" for a plan; what was done, in the operation's words, otherwise. */
  async function totalsText(operation, report) {
    const rest = `${report.skipped} skipped, ${report.failed} failed`;
    const took = report.durationMs === null ? '' : `; took ${report.durationMs} ms`;
    const groups =
      operation.type === 'organize'
        ? `; ${report.duplicates.groups} duplicate groups (${bytes(report.duplicates.reclaimableBytes)} reclaimable)`
        : '';
    if (operation.type === 'find_similar_images') {
      // Nothing moves in this kind of operation: every image it looked at is recorded 'skipped'
      // (or 'failed' with the reason), so the totals say what was found instead of "0 moved".
      const found = report.duplicates;
      const seen = report.skipped + report.failed;
      return (
        `${found.groups} ${found.groups === 1 ? 'group' : 'groups'} of similar images (${found.files} images) ` +
        `among ${seen} ${seen === 1 ? 'image' : 'images'}; ${report.failed} failed${took}`
      );
    }
    if (operation.dryRun) {
      const planned = await request('GET', `/api/v1/operations/${operation.id}/files?status=planned&limit=1`);
      return `${planned.total} planned, nothing moved (dry run); ${rest}${groups}${took}`;
    }
    const done = { cleanup_duplicates: 'moved to the quarantine', rollback: 'put back' }[operation.type] ?? 'moved';
    return `${report.moved} ${done}, ${rest}${groups}${took}`;
  }

  /** The file records: for a dry run, where each file would go; otherwise where each one went. */
  async function loadPlan(operation, report, run) {
    const wanted = planPage + 1;
    const page = await request('GET', `/api/v1/operations/${operation.id}/files?page=${wanted}&limit=${PLAN_PAGE}`);
    if (!stillShowing(operation, run) || planPage !== wanted - 1) return;
    planPage = wanted;
    const rows = $('plan-rows');
    for (const record of page.items) {
      const row = document.createElement('tr');
      cell(row, record.sourcePath);
      cell(row, record.destinationPath ?? '—');
      cell(row, record.category ?? '');
      cell(row, record.error ? `${record.status}: ${record.error}` : record.status);
      rows.appendChild(row);
    }
    $('plan-title').textContent = operation.dryRun
      ? 'The plan: where each file would go'
      : ({ cleanup_duplicates: 'Copies moved to the quarantine', rollback: 'Files put back' }[operation.type] ??
        'Where each file went');
    const shown = rows.childElementCount;
    $('plan-count').textContent = `${shown} of ${page.total} files shown.`;
    $('plan-more').hidden = shown >= page.total;
    $('plan').hidden = page.total === 0;
  }

  /** Groups of identical files that organize found, and the cleanup that keeps one copy of each. */
  async function loadGroups(operation, report, run) {
    const wanted = groupPage + 1;
    const page = await request(
      'GET',
      `/api/v1/operations/${operation.id}/duplicates?page=${wanted}&limit=${GROUP_PAGE}`,
    );
    if (!stillShowing(operation, run) || groupPage !== wanted - 1) return;
    groupPage = wanted;
    const list = $('duplicate-groups');
    const similar = operation.type === 'find_similar_images';
    for (const group of page.items) {
      const item = document.createElement('li');
      const files = document.createElement('ul');
      if (similar) {
        // Similar images are not copies: the user picks the one to keep in each group (the first
        // member by default), and the cleanup sends those as keepPaths.
        item.textContent = `${group.members.length} similar images:`;
        const name = `keep-${list.childElementCount}`;
        group.members.forEach((member, index) => {
          const entry = document.createElement('li');
          const label = document.createElement('label');
          const choice = document.createElement('input');
          choice.type = 'radio';
          choice.name = name;
          choice.value = member.path;
          choice.checked = index === 0;
          choice.dataset.testid = 'keep-image';
          label.append(choice, ` ${member.path} (distance ${member.distance})`);
          entry.appendChild(label);
          files.appendChild(entry);
        });
      } else {
        item.textContent = `${group.count} identical files of ${bytes(group.size)}:`;
        for (const file of group.files) {
          const entry = document.createElement('li');
          entry.textContent = file === group.keep ? `${file} (the oldest: kept by default)` : file;
          files.appendChild(entry);
        }
      }
      item.appendChild(files);
      list.appendChild(item);
    }
    $('duplicates-title').textContent = similar ? 'Similar images' : 'Duplicates';
    $('duplicates-summary').textContent = similar
      ? `${page.total} ${page.total === 1 ? 'group' : 'groups'} of similar images; ` +
        'choose the image to keep in each group shown.'
      : `${page.total} ${page.total === 1 ? 'group' : 'groups'} of identical files; ` +
        `${bytes(report.duplicates.reclaimableBytes)} to reclaim by keeping one copy of each.`;
    $('duplicates-more').hidden = list.childElementCount >= page.total;
    $('cleanup-keep-label').hidden = similar;
    $('start-cleanup').textContent = similar
      ? 'Move the other images of these groups to the quarantine'
      : 'Move the other copies to the quarantine';
    $('cleanup-form').hidden = operation.status !== 'completed';
    $('duplicates').hidden = page.total === 0;
  }

  async function more(load) {
    if (!current || reportFor !== current.id) return;
    try {
      const run = reportRun;
      await load(current, await request('GET', `/api/v1/operations/${current.id}/report`), run);
    } catch (error) {
      say(error.message);
    }
  }

  async function startCleanup(event) {
    event.preventDefault();
    if (!current || reportFor !== current.id) return;
    try {
      const choice =
        current.type === 'find_similar_images'
          ? {
              keepPaths: [...$('duplicate-groups').querySelectorAll('input[type="radio"]:checked')].map(
                (input) => input.value,
              ),
            }
          : { keep: $('cleanup-form').elements.keep.value };
      const operation = await request('POST', '/api/v1/operations', {
        type: 'cleanup_duplicates',
        sourceOperationId: current.id,
        ...choice,
      });
      say('Started the duplicate cleanup: the extra copies go to the quarantine.', true);
      open(operation);
      loadOperations();
    } catch (error) {
      say(error.message);
    }
  }

  // ---- the operations list ---------------------------------------------------------------------

  async function loadOperations() {
    if (!session) return;
    try {
      const page = await request('GET', '/api/v1/operations?limit=20');
      if (!session) return;
      const body = $('operations');
      body.replaceChildren();
      listed.clear();
      for (const operation of page.items) {
        listed.set(operation.id, operation);
        const row = document.createElement('tr');
        row.dataset.operationId = operation.id;
        cell(row, new Date(operation.createdAt).toLocaleString());
        cell(row, operation.type);
        cell(row, operation.rootPath || '.');
        cell(row, operation.dryRun ? 'yes' : 'no');
        cell(row, operation.status).dataset.testid = 'status';
        cell(row, `${percent(operation)}%`, true).dataset.testid = 'progress';
        const button = document.createElement('button');
        button.type = 'button';
        button.textContent = 'Open';
        button.addEventListener('click', () => open(operation));
        cell(row, '').appendChild(button);
        body.appendChild(row);
      }
      followList(page.items);
    } catch (error) {
      say(error.message);
    }
  }

  // ---- watched folders -------------------------------------------------------------------------

  /** How often the watches list is read again while signed in (their runs start on their own). */
  const WATCHES_REFRESH_MS = 5000;
  let watchesTimer = null;

  function startWatchesRefresh() {
    stopWatchesRefresh();
    watchesTimer = setInterval(loadWatches, WATCHES_REFRESH_MS);
  }

  function stopWatchesRefresh() {
    if (watchesTimer) clearInterval(watchesTimer);
    watchesTimer = null;
  }

  async function openOperation(id) {
    try {
      open(await request('GET', `/api/v1/operations/${id}`));
    } catch (error) {
      say(error.message);
    }
  }

  async function changeWatch(watch, method, body) {
    try {
      await request(method, `/api/v1/watches/${watch.id}`, body);
      say(
        method === 'DELETE'
          ? `Stopped watching ${watch.rootPath || '.'}.`
          : `${body.enabled ? 'Enabled' : 'Disabled'} the watch of ${watch.rootPath || '.'}.`,
        true,
      );
    } catch (error) {
      say(error.message);
    }
    await loadWatches();
  }

  function actionButton(text, testId, onClick) {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = text;
    button.dataset.testid = testId;
    button.addEventListener('click', onClick);
    return button;
  }

  async function loadWatches() {
    if (!session) return;
    try {
      const page = await request('GET', '/api/v1/watches?limit=50');
      if (!session) return;
      const body = $('watches');
      body.replaceChildren();
      for (const watch of page.items) {
        const row = document.createElement('tr');
        row.dataset.watchId = watch.id;
        cell(row, watch.rootPath || '.').dataset.testid = 'watch-folder';
        cell(row, `${watch.debounceMs} ms`, true);
        cell(row, watch.schedule || '—');
        cell(row, watch.enabled ? 'enabled' : 'disabled').dataset.testid = 'watch-state';
        const lastRun = cell(row, watch.lastRunAt ? '' : 'not yet');
        if (watch.lastOperationId) {
          // A link to the operation it started: opened in the Operation panel like any other.
          const link = document.createElement('a');
          link.href = `#operation-${watch.lastOperationId}`;
          link.textContent = new Date(watch.lastRunAt).toLocaleString();
          link.dataset.testid = 'watch-last-run';
          link.addEventListener('click', (event) => {
            event.preventDefault();
            openOperation(watch.lastOperationId);
          });
          lastRun.appendChild(link);
        } else if (watch.lastRunAt) {
          lastRun.textContent = new Date(watch.lastRunAt).toLocaleString();
        }
        const actions = cell(row, '');
        actions.appendChild(
          actionButton(watch.enabled ? 'Disable' : 'Enable', 'watch-toggle', () =>
            changeWatch(watch, 'PATCH', { enabled: !watch.enabled }),
          ),
        );
        actions.appendChild(actionButton('Delete', 'watch-delete', () => changeWatch(watch, 'DELETE')));
        body.appendChild(row);
      }
    } catch (error) {
      say(error.message);
    }
  }

  async function addWatch(event) {
    event.preventDefault();
    const form = $('watch-form');
    const schedule = form.elements.schedule.value.trim();
    try {
      const watch = await request('POST', '/api/v1/watches', {
        storage: 'local',
        rootPath: form.elements.rootPath.value.trim(),
        debounceMs: Number(form.elements.debounceMs.value),
        ...(schedule ? { schedule } : {}),
      });
      say(`Watching ${watch.rootPath || '.'}.`, true);
    } catch (error) {
      say(error.message);
    }
    await loadWatches();
  }

  // ---- wiring ------------------------------------------------------------------------------------

  document.addEventListener('DOMContentLoaded', () => {
    $('sign-in-form').addEventListener('submit', (event) => {
      event.preventDefault();
      authenticate('login');
    });
    $('sign-up').addEventListener('click', () => authenticate('signup'));
    $('sign-out').addEventListener('click', signOut);
    $('open-queues').addEventListener('click', openQueues);
    $('organize-form').addEventListener('submit', startOrganize);
    $('refresh').addEventListener('click', loadOperations);
    $('show-report').addEventListener('click', showReport);
    $('apply-plan').addEventListener('click', () => follow('apply'));
    $('roll-back').addEventListener('click', () => follow('rollback'));
    $('cancel').addEventListener('click', () => follow('cancel'));
    $('plan-more').addEventListener('click', () => more(loadPlan));
    $('duplicates-more').addEventListener('click', () => more(loadGroups));
    $('cleanup-form').addEventListener('submit', startCleanup);
    $('watch-form').addEventListener('submit', addWatch);
    $('refresh-watches').addEventListener('click', loadWatches);
    if (session) showConsole().catch(() => signedOut());
    else signedOut();
  });
})();
