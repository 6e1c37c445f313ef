--- Next edits: after a pause in editing, the plugin asks the server for the follow-up edits of
--- the edits just made (`tactful/nextEdits`) and shows the first one at its line: a sign, the
--- text it replaces highlighted, and the line as the edit would leave it as virtual text, with
--- the server's label ("rename `width` → `w` (2 more)"). An edit in another file shows on the
--- cursor's line as that file's name, line and label.
---
--- The next-edit key (`next_edits.keymaps.accept`, default `<Tab>`, Insert and Normal mode)
--- jumps to the edit, applies it and runs `tactful.acceptSuggestion [id]`; then the next one is
--- asked for at once. In Insert mode the inline completion's ghost text takes the key first.
--- The dismiss key (`next_edits.keymaps.dismiss`, Insert mode) hides it, runs
--- `tactful.rejectSuggestion [id]` and shows the next item of the same answer. An edit left
--- alone is hidden by the next change of the buffer; the server counts it as passed by.
--- `User` autocommands: `TactfulNextEditShown`, `TactfulNextEditAccepted`,
--- `TactfulNextEditRejected`, with the details in `data`.
---
--- This module owns its extmark namespace, its timers and its per-buffer state; the keys belong
--- to `tactful.keys`, which runs the handlers registered in `tactful.init`.

local buffer = require("tactful.buffer")
local rpc = require("tactful.rpc")

local M = {}

M.ns = vim.api.nvim_create_namespace("tactful.next_edit")

local METHOD = "tactful/nextEdits"

local options = {
  debounce_ms = 500,
  sign = "»",
}

-- Highlight groups (see `highlights()`).
local NEW = "TactfulNextEdit"
local OLD = "TactfulNextEditOld"
local SIGN = "TactfulNextEditSign"
local LABEL = "TactfulNextEditLabel"

local shown = {} -- buf -> { client_id, items, index, tick }
local pending = {} -- buf -> { client_id, request_id }
local timers = {} -- buf -> uv timer
local last_tick = {} -- buf -> changedtick a request was last scheduled for
local attached = {} -- buf -> client id
local dismissed = {} -- buf -> { id -> true }: turned down, never shown again from an answer

local resolve = buffer.resolve
local emit = buffer.emit

local function tick_of(buf)
  return vim.api.nvim_buf_get_changedtick(buf)
end

--- Whether a client's server answers `tactful/nextEdits`.
function M.offered(client)
  local experimental = client and client.server_capabilities and client.server_capabilities.experimental
  return type(experimental) == "table" and experimental.tactfulNextEdits == true
end

local function clear(buf)
  buffer.clear(shown, M.ns, buf)
end

local function cancel_pending(buf)
  buffer.cancel_pending(pending, buf)
end

--- The buffer of an item's file when it is loaded, else nil.
local function loaded_buffer(uri)
  local ok, buf = pcall(vim.uri_to_bufnr, uri)
  if ok and vim.api.nvim_buf_is_loaded(buf) then
    return buf
  end
  return nil
end

local function lines_of(buf, first, last)
  return vim.api.nvim_buf_get_lines(buf, first, last + 1, false)
end

--- Where an item's range is in `buf`, in bytes: start row and column, end row and column.
local function byte_range(buf, item, encoding)
  local range = item.range
  local first, last = range.start.line, range["end"].line
  local lines = lines_of(buf, first, last)
  if #lines == 0 then
    return nil
  end
  local start_col = rpc.byte_col(lines[1], range.start.character, encoding)
  local end_col = rpc.byte_col(lines[#lines] or "", range["end"].character, encoding)
  return first, start_col, math.min(last, first + #lines - 1), end_col, lines
end

--- The lines the edit leaves where it applies, and whether it replaces whole lines.
local function lines_after(item, start_col, end_col, lines)
  local range = item.range
  local text = item.newText or ""
  local whole = start_col == 0
    and end_col == 0
    and range["end"].line > range.start.line
    and (text == "" or text:sub(-1) == "\n")
  if whole then
    if text == "" then
      return {}, true
    end
    return vim.split(text:sub(1, -2), "\n", { plain = true }), true
  end
  local after = lines[1]:sub(1, start_col) .. text .. (lines[#lines] or ""):sub(end_col + 1)
  return vim.split(after, "\n", { plain = true }), false
end

local function render_here(buf, item, encoding)
  local row, start_col, end_row, end_col, lines = byte_range(buf, item, encoding)
  if row == nil then
    return nil
  end
  local new_lines, whole = lines_after(item, start_col, end_col, lines)
  local virt_text = { { " " .. options.sign .. " ", SIGN } }
  if #new_lines == 0 then
    local count = item.range["end"].line - item.range.start.line
    table.insert(virt_text, { count == 1 and "delete this line" or ("delete %d lines"):format(count), NEW })
  else
    table.insert(virt_text, { vim.trim(new_lines[1]), NEW })
  end
  if item.label and item.label ~= "" then
    table.insert(virt_text, { "  " .. item.label, LABEL })
  end
  local mark = {
    sign_text = options.sign,
    sign_hl_group = SIGN,
    virt_text = virt_text,
    virt_text_pos = "eol",
    priority = 190,
  }
  if #new_lines > 1 then
    mark.virt_lines = {}
    for i = 2, #new_lines do
      table.insert(mark.virt_lines, { { new_lines[i], NEW } })
    end
  end
  vim.api.nvim_buf_set_extmark(buf, M.ns, row, 0, mark)
  -- What the edit replaces, as it stands in the buffer.
  if end_row > row or end_col > start_col then
    local last = whole and (end_row - 1) or end_row
    local last_col = whole and #(lines[#lines - 1] or lines[1]) or end_col
    pcall(vim.api.nvim_buf_set_extmark, buf, M.ns, row, start_col, {
      end_row = last,
      end_col = last_col,
      hl_group = OLD,
      priority = 190,
    })
  end
  return row
end

local function render_elsewhere(buf, item)
  local row = vim.api.nvim_win_get_cursor(0)[1] - 1
  local name = vim.fn.fnamemodify(vim.uri_to_fname(item.uri), ":~:.")
  local where = ("%s:%d"):format(name, item.range.start.line + 1)
  vim.api.nvim_buf_set_extmark(buf, M.ns, row, 0, {
    sign_text = options.sign,
    sign_hl_group = SIGN,
    virt_text = {
      { " " .. options.sign .. " " .. where, NEW },
      { "  " .. (item.label or ""), LABEL },
    },
    virt_text_pos = "eol",
    priority = 190,
  })
  return row
end

--- Show the item at `index` of what the server answered for `buf`; false when there is none.
local function show(buf, client, items, index, tick)
  vim.api.nvim_buf_clear_namespace(buf, M.ns, 0, -1)
  local item = items[index]
  if item == nil then
    shown[buf] = nil
    return false
  end
  local encoding = client.offset_encoding or "utf-16"
  local here = item.uri == vim.uri_from_bufnr(buf)
  local row
  if here then
    row = render_here(buf, item, encoding)
  else
    row = render_elsewhere(buf, item)
  end
  if row == nil then
    shown[buf] = nil
    return false
  end
  shown[buf] = { client_id = client.id, items = items, index = index, tick = tick }
  emit("TactfulNextEditShown", {
    buf = buf,
    id = item.id,
    uri = item.uri,
    label = item.label,
    row = item.range.start.line,
    here = here,
  })
  return true
end

--- Ask the server for next edits at the cursor of `buf` (the current buffer) now; returns
--- whether it asked. The answer replaces what shows, unless the buffer changed meanwhile.
function M.request(buf)
  buf = resolve(buf)
  cancel_pending(buf)
  local client = rpc.client_for(buf)
  if not M.offered(client) or vim.api.nvim_get_current_buf() ~= buf or not attached[buf] then
    return false
  end
  local encoding = client.offset_encoding or "utf-16"
  local params = vim.lsp.util.make_position_params(0, encoding)
  local tick = tick_of(buf)
  local request_id
  local ok
  ok, request_id = rpc.request(client, METHOD, {
    textDocument = { uri = params.textDocument.uri },
    position = params.position,
  }, function(err, result)
    if pending[buf] and pending[buf].request_id == request_id then
      pending[buf] = nil
    end
    if err or type(result) ~= "table" or not vim.api.nvim_buf_is_valid(buf) then
      return
    end
    -- An answer for text that has changed since is dropped.
    if tick_of(buf) ~= tick then
      return
    end
    local items = {}
    for _, item in ipairs(type(result.items) == "table" and result.items or {}) do
      -- An answer asked for before a dismissal may still hold what was dismissed.
      if not (dismissed[buf] or {})[item.id] then
        table.insert(items, item)
      end
    end
    show(buf, client, items, 1, tick)
  end, buf)
  if ok and request_id then
    pending[buf] = { client_id = client.id, request_id = request_id }
  end
  return ok
end

local function schedule(buf)
  buffer.debounce(timers, buf, options.debounce_ms, function()
    if vim.api.nvim_buf_is_valid(buf) and vim.api.nvim_get_current_buf() == buf then
      M.request(buf)
    end
  end)
end

--- After a change of `buf`: what shows no longer fits the text and is hidden (the server
--- counts it as passed by), and next edits are asked for after a pause.
function M.on_change(buf)
  local tick = tick_of(buf)
  if tick == last_tick[buf] then
    return
  end
  last_tick[buf] = tick
  if shown[buf] and shown[buf].tick ~= tick then
    clear(buf)
  end
  cancel_pending(buf)
  schedule(buf)
end

--- The next edit shown in `buf`: `{ id, uri, range, newText, label }`, or nil.
function M.current(buf)
  local s = shown[resolve(buf)]
  if not s then
    return nil
  end
  return vim.deepcopy(s.items[s.index])
end

--- Jump to the next edit shown in `buf`, apply it and report it accepted; false when none
--- shows. Next edits are asked for again at once from where it leaves the cursor.
function M.accept(buf)
  buf = resolve(buf)
  local s = shown[buf]
  if not s then
    return false
  end
  local client = vim.lsp.get_client_by_id(s.client_id)
  if not client or s.tick ~= tick_of(buf) then
    clear(buf)
    return false
  end
  local item = s.items[s.index]
  clear(buf)
  cancel_pending(buf)
  local encoding = client.offset_encoding or "utf-16"
  local target = buf
  if item.uri ~= vim.uri_from_bufnr(buf) then
    target = vim.uri_to_bufnr(item.uri)
    vim.fn.bufload(target)
    vim.bo[target].buflisted = true
  end
  local row, start_col = byte_range(target, item, encoding)
  if row == nil then
    return false
  end
  vim.lsp.util.apply_text_edits({ { range = item.range, newText = item.newText or "" } }, target, encoding)
  if target ~= buf then
    vim.api.nvim_win_set_buf(0, target)
  end
  local new_lines = vim.split(item.newText or "", "\n", { plain = true })
  local end_row = row + #new_lines - 1
  local end_col = (#new_lines == 1 and start_col or 0) + #new_lines[#new_lines]
  end_row = math.min(end_row, vim.api.nvim_buf_line_count(target) - 1)
  pcall(vim.api.nvim_win_set_cursor, 0, { end_row + 1, end_col })
  last_tick[target] = tick_of(target)
  local target_client = rpc.client_for(target) or client
  rpc.execute(target_client, "tactful.acceptSuggestion", { item.id }, target, function(err, result)
    emit("TactfulNextEditAccepted", {
      id = item.id,
      uri = item.uri,
      label = item.label,
      result = result,
      error = err and err.message or nil,
    })
  end)
  -- The next one: asked for where this one left the cursor, once the change is sent.
  vim.schedule(function()
    if vim.api.nvim_buf_is_valid(target) and vim.api.nvim_get_current_buf() == target then
      M.request(target)
    end
  end)
  return true
end

--- Hide the next edit shown in `buf`, report it rejected and show the next item of the same
--- answer; false when none shows.
function M.dismiss(buf)
  buf = resolve(buf)
  local s = shown[buf]
  if not s then
    return false
  end
  local item = s.items[s.index]
  local client = vim.lsp.get_client_by_id(s.client_id)
  clear(buf)
  cancel_pending(buf)
  dismissed[buf] = dismissed[buf] or {}
  dismissed[buf][item.id] = true
  if client then
    rpc.execute(client, "tactful.rejectSuggestion", { item.id }, buf, function(err, result)
      emit("TactfulNextEditRejected", {
        id = item.id,
        reason = "dismissed",
        result = result,
        error = err and err.message or nil,
      })
    end)
    if s.tick == tick_of(buf) then
      show(buf, client, s.items, s.index + 1, s.tick)
    end
  end
  return true
end

--- Follow the changes of `buf` for `client` and show its next edits.
function M.attach(client, buf)
  if not M.offered(client) then
    return
  end
  attached[buf] = client.id
  last_tick[buf] = tick_of(buf)
  local group = vim.api.nvim_create_augroup("tactful.next_edit." .. buf, { clear = true })
  vim.api.nvim_create_autocmd({ "TextChanged", "TextChangedI", "TextChangedP" }, {
    group = group,
    buffer = buf,
    callback = function()
      M.on_change(buf)
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
  attached[buf] = nil
  dismissed[buf] = nil
  last_tick[buf] = nil
  pcall(vim.api.nvim_del_augroup_by_name, "tactful.next_edit." .. buf)
end

function M.configure(opts)
  options = vim.tbl_extend("force", options, opts or {})
end

--- The highlight groups, linked to common ones unless the color scheme defines them.
function M.highlights()
  vim.api.nvim_set_hl(0, NEW, { link = "DiffAdd", default = true })
  vim.api.nvim_set_hl(0, OLD, { link = "DiffDelete", default = true })
  vim.api.nvim_set_hl(0, SIGN, { link = "DiagnosticSignHint", default = true })
  vim.api.nvim_set_hl(0, LABEL, { link = "Comment", default = true })
end

return M
