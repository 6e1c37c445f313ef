--- tactful for Neovim: starts `tactful serve` for the files it understands, shows its inline
--- completions as ghost text, and adds the `:Tactful…` commands and a statusline function.
---
---   require("tactful").setup({
---     settings = { completion = { engine = "local" } },   -- server settings (camelCase)
---     inline = { keymaps = { accept = "<Tab>", accept_word = "<M-Right>", dismiss = "<C-]>" } },
---   })
---
--- or, on Neovim 0.11+, `vim.lsp.enable("tactful")` with the configuration in `lsp/tactful.lua`.
--- Either way the buffer-local keys and the ghost text are set up on `LspAttach`, so an
--- `on_attach` of the user's in `vim.lsp.config()` does not replace them.
---
--- Review comments and quality findings arrive as ordinary diagnostics (sources `tactful.review`
--- and `tactful.quality`) and their fixes as code actions, so Neovim's own LSP client shows them.
--- Next edits (`tactful/nextEdits`, the follow-up edits of the edits just made) show at their
--- line after a pause in editing, and `<Tab>` jumps to one and applies it (`tactful.next_edit`).
---
--- This module owns the `tactful` and `tactful.events` augroups and the user commands; the keys
--- belong to `tactful.keys`, the ghost text to `tactful.ghost`, next edits to
--- `tactful.next_edit`.

local config = require("tactful.config")
local ghost = require("tactful.ghost")
local keys = require("tactful.keys")
local lsp = require("tactful.lsp")
local next_edit = require("tactful.next_edit")
local rpc = require("tactful.rpc")
local status = require("tactful.status")

local uv = vim.uv or vim.loop

local M = {}

--- The options in force (read-only; change them with `setup()`).
M.config = config.options

local function native_inline()
  return config.options.inline.native and vim.lsp.inline_completion ~= nil
end

local function notify(message, level)
  vim.notify("tactful: " .. message, level or vim.log.levels.INFO)
end

--- The command line of a tool (`stats`, `trust`, ...) from the configured server command.
function M.cli(...)
  local prefix = {}
  for _, part in ipairs(config.options.cmd) do
    if part == "serve" then
      break
    end
    table.insert(prefix, part)
  end
  return vim.list_extend(prefix, { ... })
end

-- What the keys do while an inline completion shows. A next-edit display registers its own
-- handlers for the same actions (see tactful.keys).
keys.handle("accept", "inline completion", function(buf)
  if native_inline() then
    return vim.lsp.inline_completion.get({ bufnr = buf })
  end
  return ghost.accept(buf)
end)
keys.handle("accept_word", "inline completion", ghost.accept_word)
keys.handle("dismiss", "inline completion", ghost.dismiss)
-- What the keys do while a next edit shows (the inline completion's actions run first on a
-- key they share).
keys.handle("next_edit", "next edit", next_edit.accept)
keys.handle("next_edit_dismiss", "next edit", next_edit.dismiss)

status.follow_inline(ghost.enabled)

local function map_keys(buf)
  local maps = config.options.inline.keymaps or {}
  keys.map(buf, "i", maps.accept, "accept", "accept the suggestion")
  keys.map(buf, "i", maps.accept_word, "accept_word", "accept the next word of the suggestion")
  keys.map(buf, "i", maps.dismiss, "dismiss", "dismiss the suggestion")
end

local function map_next_edit_keys(buf)
  local maps = config.options.next_edits.keymaps or {}
  for _, mode in ipairs({ "i", "n" }) do
    keys.map(buf, mode, maps.accept, "next_edit", "jump to the next edit and apply it")
  end
  keys.map(buf, "i", maps.dismiss, "next_edit_dismiss", "dismiss the next edit")
end

local function attach(client, buf)
  if config.options.inline.enabled then
    if native_inline() then
      vim.lsp.inline_completion.enable(ghost.enabled(buf), { bufnr = buf })
    else
      ghost.attach(client, buf)
    end
    map_keys(buf)
  end
  if config.options.next_edits.enabled and next_edit.offered(client) then
    next_edit.attach(client, buf)
    map_next_edit_keys(buf)
  end
  if config.options.on_attach then
    config.options.on_attach(client, buf)
  end
  status.refresh()
end

local function tactful_client(args)
  local client = args.data and vim.lsp.get_client_by_id(args.data.client_id)
  if client and client.name == rpc.NAME then
    return client
  end
  return nil
end

--- Commands, the highlight group and the autocommands that attach to tactful's clients.
--- Idempotent; `setup()`, `plugin/tactful.lua` and `lsp/tactful.lua` call it.
function M.prepare()
  require("tactful.commands").create()
  vim.api.nvim_set_hl(0, "TactfulGhost", { link = "Comment", default = true })
  next_edit.highlights()
  local group = vim.api.nvim_create_augroup("tactful.events", { clear = true })
  vim.api.nvim_create_autocmd("LspAttach", {
    group = group,
    callback = function(args)
      local client = tactful_client(args)
      if client then
        attach(client, args.buf)
      end
    end,
  })
  vim.api.nvim_create_autocmd("LspDetach", {
    group = group,
    callback = function(args)
      if tactful_client(args) then
        keys.unmap(args.buf)
        -- The client still counts as attached while this runs.
        vim.schedule(status.refresh)
      end
    end,
  })
  vim.api.nvim_create_autocmd("LspProgress", {
    group = group,
    callback = function(args)
      if tactful_client(args) then
        status.progress(args.data)
      end
    end,
  })
  vim.api.nvim_create_autocmd("ColorScheme", {
    group = group,
    callback = function()
      vim.api.nvim_set_hl(0, "TactfulGhost", { link = "Comment", default = true })
      next_edit.highlights()
    end,
  })
end

--- Start (or reuse) the server for a buffer.
function M.start(buf)
  return lsp.start(buf or vim.api.nvim_get_current_buf())
end

function M.accept()
  return keys.run("accept", vim.api.nvim_get_current_buf())
end

function M.accept_word()
  return keys.run("accept_word", vim.api.nvim_get_current_buf())
end

function M.dismiss()
  return keys.run("dismiss", vim.api.nvim_get_current_buf())
end

--- Jump to the next edit shown and apply it; false when none shows.
function M.next_edit()
  return keys.run("next_edit", vim.api.nvim_get_current_buf())
end

--- Turn down the next edit shown; false when none shows.
function M.dismiss_next_edit()
  return keys.run("next_edit_dismiss", vim.api.nvim_get_current_buf())
end

--- Ask for next edits at the cursor now, without waiting for a pause; whether it asked.
function M.request_next_edits()
  local buf = vim.api.nvim_get_current_buf()
  if not next_edit.offered(rpc.client_for(buf)) then
    notify("no tactful server that offers next edits runs for this buffer", vim.log.levels.WARN)
    return false
  end
  return next_edit.request(buf)
end

--- Whether inline completions are on (in `buf`, default the current buffer).
function M.is_enabled(buf)
  return ghost.enabled(buf or 0)
end

local function set_enabled(on)
  ghost.set_enabled(on)
  if native_inline() then
    for _, client in ipairs(vim.lsp.get_clients({ name = rpc.NAME })) do
      for buf in pairs(client.attached_buffers or {}) do
        vim.lsp.inline_completion.enable(on and ghost.enabled(buf), { bufnr = buf })
      end
    end
  end
  status.refresh()
end

--- Inline completions on in every buffer (except those with `vim.b.tactful_enabled = false`).
function M.enable()
  set_enabled(true)
end

--- Inline completions off: what shows is hidden and nothing is asked for. Diagnostics and
--- code actions stay.
function M.disable()
  set_enabled(false)
end

--- Turn inline completions off if they are on, else on; returns whether they are now on.
function M.toggle()
  set_enabled(not ghost.globally_enabled())
  return ghost.globally_enabled()
end

--- Ask for an inline completion at the cursor now (Insert mode); false when none was asked for.
function M.trigger()
  local buf = vim.api.nvim_get_current_buf()
  if not rpc.client_for(buf) then
    notify("no tactful server runs for this buffer", vim.log.levels.WARN)
    return false
  end
  if not ghost.enabled(buf) then
    notify("inline completions are off (:TactfulEnable)", vim.log.levels.WARN)
    return false
  end
  if vim.api.nvim_get_mode().mode:sub(1, 1) ~= "i" then
    notify('suggestions show in Insert mode: map it there, e.g. vim.keymap.set("i", "<M-CR>", "<Cmd>TactfulTrigger<CR>")')
    return false
  end
  if native_inline() then
    notify("with inline.native, Neovim asks for suggestions itself")
    return false
  end
  return ghost.request(buf, true)
end

--- Stop every tactful server and start it again for the buffers it served.
function M.restart()
  local clients = vim.lsp.get_clients({ name = rpc.NAME })
  if #clients == 0 then
    local buf = vim.api.nvim_get_current_buf()
    if vim.tbl_contains(config.options.filetypes, vim.bo[buf].filetype) and M.start(buf) then
      notify("started")
    else
      notify("no tactful server is running", vim.log.levels.WARN)
    end
    return
  end
  local targets = {}
  for _, client in ipairs(clients) do
    -- setup() users get the options in force now; vim.lsp.enable() users the same config.
    local client_config = not M._setup_done and client.config or nil
    for buf in pairs(client.attached_buffers or {}) do
      table.insert(targets, { buf = buf, config = client_config })
    end
    rpc.stop(client)
  end
  local deadline = uv.now() + 5000
  local timer = uv.new_timer()
  timer:start(
    50,
    50,
    vim.schedule_wrap(function()
      local running = vim.tbl_filter(function(client)
        return not rpc.is_stopped(client)
      end, clients)
      if #running > 0 and uv.now() < deadline then
        return
      end
      timer:stop()
      timer:close()
      for _, client in ipairs(running) do
        rpc.stop(client, true)
      end
      for _, target in ipairs(targets) do
        if vim.api.nvim_buf_is_valid(target.buf) then
          lsp.start(target.buf, target.config)
        end
      end
      notify("restarted")
    end)
  )
end

local function root_dir()
  local client = rpc.any_client()
  if client and client.config.root_dir then
    return client.config.root_dir
  end
  return vim.fs.root(0, config.options.root_markers) or vim.fn.getcwd()
end

local log_path = nil

local function open_log(path)
  if vim.fn.filereadable(path) ~= 1 then
    notify("no log yet at " .. path)
    return
  end
  vim.cmd("botright split " .. vim.fn.fnameescape(path))
  vim.bo.readonly = true
  vim.bo.autoread = true
  vim.cmd("normal! G")
end

--- Open the server's log file (its path comes from `tactful doctor`, once).
function M.log()
  if log_path then
    open_log(log_path)
    return
  end
  local command = M.cli("doctor", "--format", "json", "--no-llm-check")
  local ok, err = pcall(vim.system, command, { text = true, cwd = root_dir() }, function(result)
    vim.schedule(function()
      local decoded, report = pcall(vim.json.decode, result.stdout or "")
      local path = decoded and type(report) == "table" and vim.tbl_get(report, "paths", "log")
      if type(path) ~= "string" then
        notify("could not find the log: " .. vim.trim(result.stderr or ""), vim.log.levels.ERROR)
        return
      end
      log_path = path
      open_log(path)
    end)
  end)
  if not ok then
    notify(("could not run %s: %s"):format(command[1], err), vim.log.levels.ERROR)
  end
end

--- A short text for the statusline (see tactful.status); "" where tactful is not attached.
function M.status(buf)
  return status.line(buf)
end

--- Review comments of every file as a quickfix list.
local function review_to_quickfix()
  local items = {}
  for _, diagnostic in ipairs(vim.diagnostic.get(nil)) do
    if diagnostic.source == "tactful.review" then
      table.insert(items, diagnostic)
    end
  end
  if #items == 0 then
    notify("no review comments on the changed lines")
    return
  end
  vim.fn.setqflist(vim.diagnostic.toqflist(items), "r")
  vim.fn.setqflist({}, "a", { title = "tactful review" })
  vim.cmd("copen")
end

function M.review()
  local client = rpc.any_client()
  if not client then
    notify("no tactful server is running for this buffer", vim.log.levels.WARN)
    return
  end
  rpc.execute(client, "tactful.reviewChanges", {}, vim.api.nvim_get_current_buf(), function(err)
    if err then
      notify("review failed: " .. err.message, vim.log.levels.ERROR)
      return
    end
    -- The comments arrive as diagnostics; give the last publish a moment to land.
    vim.defer_fn(review_to_quickfix, 200)
  end)
end

local function show_scratch(title, text)
  vim.cmd("botright new")
  local buf = vim.api.nvim_get_current_buf()
  vim.bo[buf].buftype = "nofile"
  vim.bo[buf].bufhidden = "wipe"
  vim.bo[buf].swapfile = false
  vim.api.nvim_buf_set_name(buf, title)
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, vim.split(text, "\n", { trimempty = true }))
  vim.bo[buf].modifiable = false
end

function M.stats()
  vim.system(M.cli("stats"), { text = true, cwd = root_dir() }, function(result)
    vim.schedule(function()
      if result.code ~= 0 and (result.stdout or "") == "" then
        notify("tactful stats failed: " .. (result.stderr or ""), vim.log.levels.ERROR)
        return
      end
      show_scratch("tactful://stats", result.stdout)
    end)
  end)
end

--- Tell running servers to read their settings (and so the trust list) again.
local function resend_settings()
  for _, client in ipairs(vim.lsp.get_clients({ name = rpc.NAME })) do
    local settings = client.settings or client.config.settings or {}
    rpc.notify(client, "workspace/didChangeConfiguration", {
      -- An empty Lua table would go out as a JSON list.
      settings = next(settings) ~= nil and settings or vim.empty_dict(),
    })
  end
end

--- `tactful trust` (or `untrust`) for a folder, default the workspace root.
function M.trust(path, untrust)
  local folder = (path and path ~= "") and vim.fn.fnamemodify(path, ":p") or root_dir()
  local verb = untrust and "untrust" or "trust"
  vim.system(M.cli(verb, folder), { text = true }, function(result)
    vim.schedule(function()
      if result.code ~= 0 then
        notify(verb .. " failed: " .. (result.stderr or ""), vim.log.levels.ERROR)
        return
      end
      resend_settings()
      notify(
        untrust and (folder .. " is no longer trusted: tactful will not run its tests")
          or (folder .. " is trusted: tactful validates fixes by running its tests")
      )
    end)
  end)
end

function M.setup(opts)
  M.config = config.set(opts)
  local inline = M.config.inline
  ghost.configure({
    debounce_ms = inline.debounce_ms,
    hl_group = inline.hl_group,
    auto_trigger = inline.auto_trigger,
  })
  next_edit.configure({
    debounce_ms = M.config.next_edits.debounce_ms,
    sign = M.config.next_edits.sign,
  })
  M.prepare()
  local group = vim.api.nvim_create_augroup("tactful", { clear = true })
  vim.api.nvim_create_autocmd("FileType", {
    group = group,
    pattern = M.config.filetypes,
    callback = function(args)
      M.start(args.buf)
    end,
  })
  -- Buffers opened before setup() ran.
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(buf) and vim.tbl_contains(M.config.filetypes, vim.bo[buf].filetype) then
      M.start(buf)
    end
  end
  M._setup_done = true
end

return M
