--- `:checkhealth tactful`: is Neovim new enough, is the server installed and answering, and is
--- it attached to the current buffer with the features this plugin relies on.
---
--- Read-only: it runs `tactful --version` and inspects clients, never changes any state.

local M = {}

local health = vim.health

local function version_text(result)
  return vim.trim((result.stdout ~= "" and result.stdout or result.stderr) or "")
end

function M.check()
  health.start("tactful")
  if vim.fn.has("nvim-0.10") == 1 then
    health.ok("Neovim " .. tostring(vim.version()))
  else
    health.error("Neovim 0.10 or newer is required", { "Upgrade Neovim." })
    return
  end

  local tactful = package.loaded["tactful"]
  local enabled_by_lsp = vim.lsp.is_enabled and vim.lsp.is_enabled("tactful")
  if tactful and tactful._setup_done then
    health.ok("setup() called")
  elseif enabled_by_lsp then
    health.ok('started by vim.lsp.enable("tactful")')
  else
    health.warn("neither setup() nor vim.lsp.enable(\"tactful\") was called", {
      'Add require("tactful").setup({}) to your config,',
      'or, on Neovim 0.11+, vim.lsp.enable("tactful").',
    })
  end
  tactful = require("tactful")
  local options = require("tactful.config").options

  local cmd = options.cmd
  local exe = cmd[1]
  if vim.fn.executable(exe) ~= 1 then
    health.error(("`%s` is not executable"):format(exe), {
      "Install it: python3 -m pip install tactful",
      'Or point setup({ cmd = { "/path/to/tactful", "serve" } }) at it.',
    })
  else
    local ok, result = pcall(function()
      return vim.system(tactful.cli("--version"), { text = true }):wait(30000)
    end)
    if ok and result.code == 0 then
      health.ok(("%s (%s)"):format(version_text(result), vim.fn.exepath(exe)))
    else
      health.error(("`%s --version` failed"):format(exe), { ok and version_text(result) or tostring(result) })
    end
  end

  if options.inline.native and vim.lsp.inline_completion then
    health.ok("inline completions: Neovim's own vim.lsp.inline_completion")
  elseif options.inline.enabled then
    health.ok("inline completions: ghost text drawn by this plugin")
  else
    health.info("inline completions are disabled (inline.enabled = false)")
  end
  if options.inline.enabled and not tactful.is_enabled() then
    health.info("inline completions are turned off for now (:TactfulEnable)")
  end

  -- `:checkhealth` shows its report in a buffer of its own, so look at every tactful client.
  local clients = vim.lsp.get_clients({ name = "tactful" })
  if #clients == 0 then
    health.info("no tactful server is running: open a file of a supported type")
    return
  end
  for _, client in ipairs(clients) do
    local names = {}
    for buf in pairs(client.attached_buffers or {}) do
      table.insert(names, vim.fn.fnamemodify(vim.api.nvim_buf_get_name(buf), ":~:."))
    end
    health.ok(("server attached (id %d, root %s, positions %s) to %s"):format(
      client.id,
      client.config.root_dir or "none",
      client.offset_encoding or "utf-16",
      #names > 0 and table.concat(names, ", ") or "no buffer"
    ))
    local keys = require("tactful.keys")
    for buf in pairs(client.attached_buffers or {}) do
      for action, lhs in pairs(options.inline.keymaps or {}) do
        if lhs and keys.is_mapped(buf, "i", lhs) then
          local fallback = keys.fallback_of(buf, "i", lhs)
          health.ok(("%s in buffer %d: %s while a suggestion shows, else %s"):format(
            lhs,
            buf,
            action,
            fallback or "the key itself"
          ))
        end
      end
    end
    for buf in pairs(client.attached_buffers or {}) do
      local accept = (options.next_edits.keymaps or {}).accept
      if accept and keys.is_mapped(buf, "n", accept) then
        health.ok(("%s in buffer %d (Normal mode): apply the next edit while one shows, else %s"):format(
          accept,
          buf,
          keys.fallback_of(buf, "n", accept) or "the key itself"
        ))
      end
    end
    local caps = client.server_capabilities or {}
    if require("tactful.next_edit").offered(client) then
      health.ok("the server offers next edits")
    elseif options.next_edits.enabled then
      health.info("the server does not offer next edits (tactful/nextEdits): an older tactful")
    end
    if caps.inlineCompletionProvider then
      health.ok("the server offers inline completions")
    else
      health.warn("the server does not offer inline completions")
    end
    local commands = caps.executeCommandProvider and caps.executeCommandProvider.commands or {}
    for _, name in ipairs({ "tactful.acceptSuggestion", "tactful.rejectSuggestion", "tactful.reviewChanges" }) do
      if vim.tbl_contains(commands, name) then
        health.ok("the server runs " .. name)
      else
        health.warn("the server does not list the command " .. name)
      end
    end
  end
end

return M
