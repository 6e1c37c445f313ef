--- tactful for Neovim: starts `tactful serve` for the files it understands, shows its inline
--- completions as ghost text, and adds `:TactfulReview`, `:TactfulStats`, `:TactfulTrust`.
---
---   require("tactful").setup({
---     settings = { completion = { engine = "local" } },   -- server settings (camelCase)
---     inline = { keymaps = { accept = "<Tab>", accept_word = "<M-Right>", dismiss = "<C-]>" } },
---   })
---
--- Review comments and quality findings arrive as ordinary diagnostics (sources `tactful.review`
--- and `tactful.quality`) and their fixes as code actions, so Neovim's own LSP client shows them.
--- This module owns the `tactful` augroup, the user commands and the buffer-local keymaps it sets.

local rpc = require("tactful.rpc")
local ghost = require("tactful.ghost")

local M = {}

local defaults = {
  --- Command that starts the server; the command line tools are this minus `serve`.
  cmd = { "tactful", "serve" },
  filetypes = {
    "python",
    "javascript",
    "javascriptreact",
    "typescript",
    "typescriptreact",
    "go",
    "rust",
    "java",
  },
  --- The workspace root is the nearest folder holding one of these (else the file's folder).
  root_markers = { "pyproject.toml", ".tactful.toml", "setup.py", "setup.cfg", ".git" },
  --- Server settings, nested and camelCase as in tactful's documentation.
  settings = {},
  inline = {
    enabled = true,
    --- Use Neovim's own `vim.lsp.inline_completion` where it exists (0.12+). It shows and accepts
    --- suggestions but sends no partial accepts or explicit rejections.
    native = false,
    debounce_ms = 75,
    hl_group = "TactfulGhost",
    --- Insert-mode keys; set one to false to leave that key alone and call the functions
    --- `require("tactful").accept()`, `.accept_word()`, `.dismiss()` from your own mappings.
    keymaps = {
      accept = "<Tab>",
      accept_word = "<M-Right>",
      dismiss = "<C-]>",
    },
  },
  --- Called with (client, bufnr) when tactful attaches to a buffer.
  on_attach = nil,
}

M.config = vim.deepcopy(defaults)

local function native_inline()
  return M.config.inline.native and vim.lsp.inline_completion ~= nil
end

--- The command line of a tool (`stats`, `trust`, ...) from the configured server command.
function M.cli(...)
  local cmd = M.config.cmd
  local prefix = {}
  for _, part in ipairs(cmd) do
    if part == "serve" then
      break
    end
    table.insert(prefix, part)
  end
  return vim.list_extend(prefix, { ... })
end

local function feed(lhs)
  vim.api.nvim_feedkeys(vim.keycode(lhs), "n", false)
end

local function map_keys(buf)
  local keys = M.config.inline.keymaps or {}
  local function map(lhs, action, desc)
    if not lhs then
      return
    end
    vim.keymap.set("i", lhs, function()
      if not action(buf) then
        feed(lhs)
      end
    end, { buffer = buf, desc = desc })
  end
  if native_inline() then
    map(keys.accept, function()
      return vim.lsp.inline_completion.get()
    end, "tactful: accept the suggestion")
    return
  end
  map(keys.accept, ghost.accept, "tactful: accept the suggestion")
  map(keys.accept_word, ghost.accept_word, "tactful: accept the next word of the suggestion")
  map(keys.dismiss, ghost.dismiss, "tactful: dismiss the suggestion")
end

local function on_attach(client, buf)
  if M.config.inline.enabled then
    if native_inline() then
      vim.lsp.inline_completion.enable(true, { bufnr = buf })
    else
      ghost.attach(client, buf)
    end
    map_keys(buf)
  end
  if M.config.on_attach then
    M.config.on_attach(client, buf)
  end
end

--- Whether this Neovim can be asked to pull diagnostics again (`workspace/diagnostic/refresh`).
local function pull_refreshes(caps)
  local workspace = caps.workspace or {}
  return workspace.diagnostics ~= nil and workspace.diagnostics.refreshSupport == true
end

local function capabilities()
  local caps = vim.lsp.protocol.make_client_capabilities()
  caps.textDocument = caps.textDocument or {}
  -- Neovim before 0.12 has no inline completion of its own; this plugin provides it.
  caps.textDocument.inlineCompletion = caps.textDocument.inlineCompletion
    or { dynamicRegistration = false }
  -- tactful computes diagnostics in the background, after the edit that prompted them. A
  -- Neovim that pulls diagnostics only on open and change, and cannot be asked to pull again,
  -- would show them one edit late; such a Neovim gets them pushed instead.
  if not pull_refreshes(caps) then
    -- null, not nil: Neovim merges these capabilities over its defaults.
    caps.textDocument.diagnostic = vim.NIL
  end
  return caps
end

local function on_init(client)
  if not pull_refreshes(client.capabilities or {}) then
    -- Without this Neovim would still pull (the server offers it) and show each diagnostic
    -- twice, once pushed and once pulled.
    client.server_capabilities.diagnosticProvider = nil
  end
end

--- `tactful/verdictsChanged {uri, version}`: the tests gave a verdict on a fix of that document,
--- so its code actions (whose titles carry the verdicts) are worth asking for again. Whatever
--- draws them (a light bulb plugin, a statusline) listens to `User TactfulVerdicts`.
local function verdicts_changed(_, result)
  local uri = type(result) == "table" and result.uri or nil
  local buf = uri and vim.fn.bufnr(vim.uri_to_fname(uri)) or -1
  if buf > 0 and vim.api.nvim_buf_is_loaded(buf) then
    vim.api.nvim_exec_autocmds("User", {
      pattern = "TactfulVerdicts",
      modeline = false,
      data = { buf = buf, uri = uri, version = result.version },
    })
  end
end

--- Start (or reuse) the server for a buffer.
function M.start(buf)
  buf = buf or vim.api.nvim_get_current_buf()
  if vim.bo[buf].buftype ~= "" then
    return nil
  end
  local name = vim.api.nvim_buf_get_name(buf)
  if name == "" then
    return nil
  end
  local root = vim.fs.root(buf, M.config.root_markers) or vim.fs.dirname(name)
  return vim.lsp.start({
    name = rpc.NAME,
    cmd = M.config.cmd,
    root_dir = root,
    init_options = next(M.config.settings) and M.config.settings or vim.empty_dict(),
    -- Answers `workspace/configuration` for the section `tactful`.
    settings = { tactful = M.config.settings },
    capabilities = capabilities(),
    handlers = { ["tactful/verdictsChanged"] = verdicts_changed },
    on_init = on_init,
    on_attach = on_attach,
  }, { bufnr = buf })
end

function M.accept()
  return ghost.accept(vim.api.nvim_get_current_buf())
end

function M.accept_word()
  return ghost.accept_word(vim.api.nvim_get_current_buf())
end

function M.dismiss()
  return ghost.dismiss(vim.api.nvim_get_current_buf())
end

local function notify(message, level)
  vim.notify("tactful: " .. message, level or vim.log.levels.INFO)
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

local function root_dir()
  local client = rpc.any_client()
  if client and client.config.root_dir then
    return client.config.root_dir
  end
  return vim.fs.root(0, M.config.root_markers) or vim.fn.getcwd()
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
    rpc.notify(client, "workspace/didChangeConfiguration", {
      settings = client.settings or client.config.settings or {},
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

local function create_commands()
  vim.api.nvim_create_user_command("TactfulReview", M.review, {
    desc = "tactful: review the changed lines now and list the comments",
  })
  vim.api.nvim_create_user_command("TactfulStats", M.stats, {
    desc = "tactful: acceptance statistics",
  })
  vim.api.nvim_create_user_command("TactfulTrust", function(opts)
    M.trust(opts.args, false)
  end, { nargs = "?", complete = "dir", desc = "tactful: trust this workspace to run its tests" })
  vim.api.nvim_create_user_command("TactfulUntrust", function(opts)
    M.trust(opts.args, true)
  end, { nargs = "?", complete = "dir", desc = "tactful: stop trusting this workspace" })
end

function M.setup(opts)
  M.config = vim.tbl_deep_extend("force", vim.deepcopy(defaults), opts or {})
  -- Lists are replaced, not merged index by index.
  for _, key in ipairs({ "cmd", "filetypes", "root_markers" }) do
    if opts and opts[key] then
      M.config[key] = opts[key]
    end
  end
  ghost.configure({
    debounce_ms = M.config.inline.debounce_ms,
    hl_group = M.config.inline.hl_group,
  })
  vim.api.nvim_set_hl(0, "TactfulGhost", { link = "Comment", default = true })
  create_commands()
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
