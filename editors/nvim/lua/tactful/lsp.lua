--- The LSP client configuration of tactful, shared by `setup()` (which starts it with
--- `vim.lsp.start` on 0.10+) and `lsp/tactful.lua` (for 0.11's `vim.lsp.enable("tactful")`).
---
--- It decides what Neovim tells the server (capabilities, settings, initialization options)
--- and never touches buffers or keys: those are set on `LspAttach` by `tactful.init`.

local config = require("tactful.config")
local handlers = require("tactful.handlers")
local rpc = require("tactful.rpc")

local M = {}

--- Whether this Neovim can be asked to pull diagnostics again (`workspace/diagnostic/refresh`).
local function pull_refreshes(caps)
  local workspace = caps.workspace or {}
  return workspace.diagnostics ~= nil and workspace.diagnostics.refreshSupport == true
end

function M.capabilities()
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

--- The `tactful` settings are also the initialization options, unless some were set: keys that
--- decide what runs (`llm.*`, `validation.command`) are taken from those only.
local function before_init(params, client_config)
  if params.initializationOptions ~= nil then
    return
  end
  local settings = vim.tbl_get(client_config, "settings", "tactful")
  if type(settings) == "table" and next(settings) ~= nil then
    params.initializationOptions = settings
  end
end

--- The client configuration for the options in force (`setup()`'s, else the defaults).
function M.config()
  local options = config.options
  local settings = options.settings or {}
  return {
    name = rpc.NAME,
    cmd = options.cmd,
    filetypes = options.filetypes,
    root_markers = options.root_markers,
    -- Nothing rather than `{ tactful = {} }`: Neovim sends an empty Lua table as a JSON list.
    settings = next(settings) ~= nil and { tactful = settings } or {},
    before_init = before_init,
    capabilities = M.capabilities(),
    on_init = on_init,
    handlers = handlers,
  }
end

--- The workspace root of a buffer: the nearest folder with a root marker, else its folder.
function M.root_of(buf, markers)
  return vim.fs.root(buf, markers or config.options.root_markers)
    or vim.fs.dirname(vim.api.nvim_buf_get_name(buf))
end

local told_missing = false

--- Start (or reuse) the server for a buffer with `client_config` (default: `M.config()`).
function M.start(buf, client_config)
  if vim.bo[buf].buftype ~= "" or vim.api.nvim_buf_get_name(buf) == "" then
    return nil
  end
  local start = vim.deepcopy(client_config or M.config())
  local exe = start.cmd and start.cmd[1]
  if type(exe) == "string" and vim.fn.executable(exe) ~= 1 then
    -- Once, not once per buffer as vim.lsp.start would.
    if not told_missing then
      told_missing = true
      vim.notify(
        ("tactful: `%s` is not installed or not on PATH: install tactful (pipx install tactful) or set cmd in setup(); :checkhealth tactful"):format(
          exe
        ),
        vim.log.levels.WARN
      )
    end
    return nil
  end
  start.root_dir = start.root_dir or M.root_of(buf, start.root_markers)
  start.filetypes = nil
  start.root_markers = nil
  return vim.lsp.start(start, { bufnr = buf })
end

return M
