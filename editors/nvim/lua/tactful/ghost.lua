--- Inline completions as ghost text: asks the server (`textDocument/inlineCompletion`) while
--- you type, draws the answer with extmarks, and tells the server what became of it.
---
--- Accepting inserts the text and runs the item's `tactful.acceptSuggestion` command (`[id]`),
--- accepting a word sends `[id, acceptedLength]` (characters of the item's insertText now in the
--- buffer). Dismissing, leaving Insert mode, moving away or typing something else sends
--- `tactful.rejectSuggestion [id]`; typing what the ghost text predicted is not a rejection: the
--- ghost text advances instead. Each of these fires a `User` autocommand (`TactfulShown`,
--- `TactfulAccepted`, `TactfulRejected`, `TactfulTyped`) with the details in `data`.
---
--- Inline completions can be turned off everywhere (`set_enabled(false)`) or in one buffer
--- (`vim.b.tactful_enabled = false`); with `auto_trigger` off, only `request(buf, true)` asks.
---
--- When the server says an answer it worked on in the background is ready
--- (`tactful/inlineCompletionReady`, see `ready()`), the plugin asks again at that moment if the
--- buffer and the cursor are still there, and the new answer replaces the ghost text shown
--- (quietly: replacing is not a rejection).
---
--- This module owns only its extmark namespace and its own per-buffer state.

local buffer = require("tactful.buffer")
local rpc = require("tactful.rpc")

local M = {}

M.ns = vim.api.nvim_create_namespace("tactful.ghost")

local options = {
  debounce_ms = 75,
  hl_group = "TactfulGhost",
  auto_trigger = true,
}

local enabled = true

local shown = {} -- buf -> ghost state
local pending = {} -- buf -> { client_id, request_id }
local timers = {} -- buf -> uv timer
local last_tick = {} -- buf -> changedtick the last request was scheduled for

local resolve = buffer.resolve
local emit = buffer.emit

local function cursor()
  local pos = vim.api.nvim_win_get_cursor(0)
  return pos[1] - 1, pos[2]
end

local function tick_of(buf)
  return vim.api.nvim_buf_get_changedtick(buf)
end

local function line_at(buf, row)
  return vim.api.nvim_buf_get_lines(buf, row, row + 1, false)[1] or ""
end

local function in_insert_mode()
  return vim.api.nvim_get_mode().mode:sub(1, 1) == "i"
end

--- Plain text of a snippet string: tab stops dropped, placeholders kept.
local function snippet_text(value)
  local text = value:gsub("%${%d+:([^}]*)}", "%1"):gsub("%${%d+}", ""):gsub("%$%d+", "")
  return (text:gsub("\\([%$}\\])", "%1"))
end

local function render(s)
  local tab = string.rep(" ", vim.bo[s.buf].tabstop)
  local lines = vim.split(s.text:gsub("\t", tab), "\n", { plain = true })
  local opts = { id = s.extmark, hl_mode = "combine", priority = 200 }
  if lines[1] ~= "" then
    opts.virt_text = { { lines[1], options.hl_group } }
    opts.virt_text_pos = "inline"
  end
  if #lines > 1 then
    opts.virt_lines = {}
    for i = 2, #lines do
      table.insert(opts.virt_lines, { { lines[i], options.hl_group } })
    end
  end
  if s.extmark then
    pcall(vim.api.nvim_buf_del_extmark, s.buf, M.ns, s.extmark)
    opts.id = nil
  end
  s.extmark = vim.api.nvim_buf_set_extmark(s.buf, M.ns, s.row, s.col, opts)
end

local function clear(buf)
  buffer.clear(shown, M.ns, buf)
end

local function cancel_pending(buf)
  buffer.cancel_pending(pending, buf)
end

--- Send `tactful.rejectSuggestion [id]` for the ghost text shown in `buf`, and hide it.
local function reject(buf, reason)
  local s = shown[buf]
  clear(buf)
  if not s or s.id == nil then
    return
  end
  local client = vim.lsp.get_client_by_id(s.client_id)
  if not client then
    return
  end
  rpc.execute(client, "tactful.rejectSuggestion", { s.id }, buf, function(err, result)
    emit("TactfulRejected", {
      id = s.id,
      reason = reason,
      result = result,
      error = err and err.message or nil,
    })
  end)
end

--- The ghost text an item shows at (row, col) of `line`, or nil when it does not fit there.
local function ghost_of(item, line, row, col, encoding)
  local insert = item.insertText
  if type(insert) == "table" then
    insert = snippet_text(insert.value or "")
  end
  if type(insert) ~= "string" or insert == "" then
    return nil
  end
  local start_col, end_col = col, col
  if item.range then
    local range = item.range
    if range.start.line ~= row or range["end"].line ~= row then
      return nil
    end
    start_col = rpc.byte_col(line, range.start.character, encoding)
    end_col = rpc.byte_col(line, range["end"].character, encoding)
    if start_col > col or end_col < col then
      return nil
    end
  end
  -- The range may start before the cursor: that part is already typed and must agree.
  local typed = line:sub(start_col + 1, col)
  if insert:sub(1, #typed) ~= typed then
    return nil
  end
  local text = insert:sub(#typed + 1)
  if text == "" then
    return nil
  end
  return {
    text = text,
    replace_len = end_col - col,
    accepted = rpc.length(typed),
  }
end

local function show(buf, client, result, row, col)
  local items = result.items or result
  if type(items) ~= "table" then
    return
  end
  local line = line_at(buf, row)
  for _, item in ipairs(items) do
    local ghost = ghost_of(item, line, row, col, client.offset_encoding or "utf-16")
    if ghost then
      local command = item.command
      local s = {
        buf = buf,
        client_id = client.id,
        id = command and command.arguments and command.arguments[1] or nil,
        command = command,
        text = ghost.text,
        replace_len = ghost.replace_len,
        accepted = ghost.accepted,
        row = row,
        col = col,
        after = line:sub(col + 1),
        tick = tick_of(buf),
      }
      shown[buf] = s
      render(s)
      emit("TactfulShown", { id = s.id, text = s.text })
      return
    end
  end
end

--- Whether inline completions are on, leaving aside buffers that turned them off.
function M.globally_enabled()
  return enabled
end

--- Whether inline completions are on in `buf`.
function M.enabled(buf)
  buf = resolve(buf)
  return enabled and vim.b[buf].tactful_enabled ~= false
end

--- Ask the server for an inline completion at the cursor now; `invoked` when the user asked
--- for one (a key or a command) rather than the plugin while typing; `replace` to replace the
--- ghost text shown at the cursor with the answer. Returns whether it asked.
function M.request(buf, invoked, replace)
  buf = resolve(buf)
  cancel_pending(buf)
  local client = rpc.client_for(buf)
  if not client or vim.api.nvim_get_current_buf() ~= buf or not in_insert_mode() then
    return false
  end
  if (shown[buf] and not replace) or not M.enabled(buf) then
    return false
  end
  local encoding = client.offset_encoding or "utf-16"
  local params = vim.lsp.util.make_position_params(0, encoding)
  -- LSP's InlineCompletionTriggerKind: 1 Invoked, 2 Automatic.
  params.context = { triggerKind = invoked and 1 or 2 }
  local tick = tick_of(buf)
  local row, col = cursor()
  local request_id
  local ok
  ok, request_id = rpc.request(client, "textDocument/inlineCompletion", params, function(err, result)
    if pending[buf] and pending[buf].request_id == request_id then
      pending[buf] = nil
    end
    if err or not result or not vim.api.nvim_buf_is_valid(buf) then
      return
    end
    -- A stale answer (the text or the cursor moved on since) is dropped.
    local now_row, now_col = cursor()
    if tick_of(buf) ~= tick or now_row ~= row or now_col ~= col then
      return
    end
    if vim.api.nvim_get_current_buf() ~= buf or not in_insert_mode() then
      return
    end
    local s = shown[buf]
    if s then
      if not replace or s.tick ~= tick or s.row ~= row or s.col ~= col then
        return
      end
      local items = result.items or result
      if type(items) ~= "table" or #items == 0 then
        return -- nothing better: what shows stays
      end
      clear(buf)
    end
    show(buf, client, result, row, col)
  end, buf)
  if ok and request_id then
    pending[buf] = { client_id = client.id, request_id = request_id }
  end
  return ok
end

--- The server's `tactful/inlineCompletionReady` (`{ textDocument = { uri, version }, position }`):
--- ask again when the buffer is current, in Insert mode, at that version and the cursor there.
--- Returns whether it asked.
function M.ready(client_id, params)
  if type(params) ~= "table" or type(params.textDocument) ~= "table" or type(params.position) ~= "table" then
    return false
  end
  local buf = vim.api.nvim_get_current_buf()
  local client = vim.lsp.get_client_by_id(client_id)
  if not client or vim.uri_from_bufnr(buf) ~= params.textDocument.uri then
    return false
  end
  if not in_insert_mode() or not M.enabled(buf) then
    return false
  end
  local versions = vim.lsp.util.buf_versions or {}
  local version = versions[buf] or tick_of(buf)
  if version ~= params.textDocument.version then
    return false
  end
  local row, col = cursor()
  local at = rpc.byte_col(line_at(buf, row), params.position.character, client.offset_encoding or "utf-16")
  if row ~= params.position.line or col ~= at then
    return false
  end
  return M.request(buf, false, true)
end

local function schedule(buf)
  buffer.debounce(timers, buf, options.debounce_ms, function()
    if vim.api.nvim_buf_is_valid(buf) then
      M.request(buf)
    end
  end)
end

--- Typed text that agrees with the ghost text moves it along; returns false when it disagrees.
local function advance(s, row, col)
  if row < s.row or (row == s.row and col <= s.col) then
    return false
  end
  local ok, got = pcall(vim.api.nvim_buf_get_text, s.buf, s.row, s.col, row, col, {})
  if not ok then
    return false
  end
  local typed = table.concat(got, "\n")
  if s.text:sub(1, #typed) ~= typed then
    return false
  end
  if line_at(s.buf, row):sub(col + 1) ~= s.after then
    return false
  end
  s.text = s.text:sub(#typed + 1)
  s.accepted = s.accepted + rpc.length(typed)
  s.row, s.col = row, col
  s.tick = tick_of(s.buf)
  if s.text == "" then
    clear(s.buf)
    emit("TactfulTyped", { id = s.id })
  else
    render(s)
  end
  return true
end

--- Bring the ghost text in line with the buffer after a keystroke or a cursor move.
function M.on_change(buf)
  local s = shown[buf]
  local tick = tick_of(buf)
  local row, col = cursor()
  if s then
    if tick == s.tick and row == s.row and col == s.col then
      return
    end
    if tick ~= s.tick and advance(s, row, col) then
      last_tick[buf] = tick
      return
    end
    reject(buf, tick == s.tick and "moved" or "typed over")
  end
  if tick ~= last_tick[buf] then
    last_tick[buf] = tick
    if options.auto_trigger and M.enabled(buf) then
      schedule(buf)
    end
  end
end

local function run_accept(s, arguments, data)
  local client = vim.lsp.get_client_by_id(s.client_id)
  if not client or not s.command then
    emit("TactfulAccepted", data)
    return
  end
  rpc.execute(client, s.command.command, arguments, s.buf, function(err, result)
    data.result = result
    data.error = err and err.message or nil
    emit("TactfulAccepted", data)
  end)
end

local function insert(buf, row, col, replace_len, text)
  local lines = vim.split(text, "\n", { plain = true })
  vim.api.nvim_buf_set_text(buf, row, col, row, col + replace_len, lines)
  local end_row = row + #lines - 1
  local end_col = (#lines == 1 and col or 0) + #lines[#lines]
  vim.api.nvim_win_set_cursor(0, { end_row + 1, end_col })
  return end_row, end_col
end

--- Accept the whole ghost text; false when none is shown.
function M.accept(buf)
  buf = resolve(buf)
  M.on_change(buf)
  local s = shown[buf]
  if not s then
    return false
  end
  clear(buf)
  insert(buf, s.row, s.col, s.replace_len, s.text)
  last_tick[buf] = tick_of(buf)
  run_accept(s, s.command and s.command.arguments or { s.id }, { id = s.id, text = s.text, partial = false })
  return true
end

--- Accept the next word of the ghost text (or the line break before it); false when none is shown.
function M.accept_word(buf)
  buf = resolve(buf)
  M.on_change(buf)
  local s = shown[buf]
  if not s then
    return false
  end
  local text = s.text
  local chunk = text:match("^\n[ \t]*")
    or text:match("^[ \t]*[%w_\128-\255]+")
    or text:match("^[ \t]*[^%w_%s\128-\255]+")
    or text:match("^%s+")
    or text
  if #chunk >= #text then
    return M.accept(buf)
  end
  s.row, s.col = insert(buf, s.row, s.col, 0, chunk)
  s.text = text:sub(#chunk + 1)
  s.accepted = s.accepted + rpc.length(chunk)
  s.tick = tick_of(buf)
  last_tick[buf] = s.tick
  render(s)
  run_accept(s, { s.id, s.accepted }, {
    id = s.id,
    text = chunk,
    partial = true,
    accepted_length = s.accepted,
  })
  return true
end

--- Hide the ghost text and tell the server it was not wanted; false when none is shown.
function M.dismiss(buf)
  buf = resolve(buf)
  if not shown[buf] then
    return false
  end
  reject(buf, "dismissed")
  return true
end

--- The ghost text shown in `buf` (`{ id, text }`), or nil.
function M.current(buf)
  local s = shown[resolve(buf)]
  if not s then
    return nil
  end
  return { id = s.id, text = s.text, row = s.row, col = s.col }
end

local function stop(buf, reason)
  if timers[buf] then
    timers[buf]:stop()
  end
  cancel_pending(buf)
  if shown[buf] then
    reject(buf, reason)
  end
end

--- Start showing ghost text in `buf` for `client`.
function M.attach(client, buf)
  local group = vim.api.nvim_create_augroup("tactful.ghost." .. buf, { clear = true })
  last_tick[buf] = tick_of(buf)
  vim.api.nvim_create_autocmd({ "TextChangedI", "TextChangedP", "CursorMovedI" }, {
    group = group,
    buffer = buf,
    callback = function()
      M.on_change(buf)
    end,
  })
  vim.api.nvim_create_autocmd("InsertLeave", {
    group = group,
    buffer = buf,
    callback = function()
      stop(buf, "left Insert mode")
    end,
  })
  vim.api.nvim_create_autocmd("BufLeave", {
    group = group,
    buffer = buf,
    callback = function()
      stop(buf, "left the buffer")
    end,
  })
  buffer.detach_with(group, buf, client, function(b)
    M.detach(b)
  end)
end

function M.detach(buf)
  buffer.free_timer(timers, buf)
  cancel_pending(buf)
  clear(buf)
  last_tick[buf] = nil
  pcall(vim.api.nvim_del_augroup_by_name, "tactful.ghost." .. buf)
end

function M.configure(opts)
  options = vim.tbl_extend("force", options, opts or {})
end

--- Turn inline completions on or off in every buffer; turning them off hides what shows (a
--- rejection, reason "disabled") and cancels what was asked.
function M.set_enabled(on)
  enabled = on
  if on then
    return
  end
  for buf in pairs(timers) do
    stop(buf, "disabled")
  end
  for buf in pairs(shown) do
    stop(buf, "disabled")
  end
end

return M
