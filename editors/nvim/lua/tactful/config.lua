--- The plugin's options: the defaults, and what `setup()` made of the user's.
---
--- Every other module reads its options here, so `setup()`, `lsp/tactful.lua` (for
--- `vim.lsp.enable("tactful")`) and the commands agree. Plain data: it starts nothing.

local M = {}

M.defaults = {
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
    --- Ask while typing; when false, only `:TactfulTrigger` (or `trigger()`) asks.
    auto_trigger = true,
    --- Use Neovim's own `vim.lsp.inline_completion` where it exists (0.12+). It shows and accepts
    --- suggestions but sends no partial accepts or explicit rejections.
    native = false,
    debounce_ms = 75,
    hl_group = "TactfulGhost",
    --- Insert-mode keys. Each acts only while a suggestion shows and otherwise does what the key
    --- did before (your mapping, another plugin's, or the key itself). `false` leaves a key alone.
    keymaps = {
      accept = "<Tab>",
      accept_word = "<M-Right>",
      dismiss = "<C-]>",
    },
  },
  next_edits = {
    --- Ask for the follow-up edits of your edits (`tactful/nextEdits`) and show the first.
    enabled = true,
    --- The pause after the last change before asking, in milliseconds.
    debounce_ms = 500,
    --- The sign in the sign column of the line a next edit changes.
    sign = "»",
    --- `accept` (Insert and Normal mode) jumps to the next edit shown and applies it; in Insert
    --- mode the ghost text of an inline completion takes the key first. `dismiss` (Insert mode)
    --- turns it down. Each key does what it did before when nothing shows. `false` leaves a
    --- key alone.
    keymaps = {
      accept = "<Tab>",
      dismiss = "<C-]>",
    },
  },
  --- Called with (client, bufnr) when tactful attaches to a buffer.
  on_attach = nil,
}

M.options = vim.deepcopy(M.defaults)

--- Merge the user's options over the defaults; lists are replaced whole, not merged by index.
function M.set(opts)
  opts = opts or {}
  local merged = vim.tbl_deep_extend("force", vim.deepcopy(M.defaults), opts)
  for _, key in ipairs({ "cmd", "filetypes", "root_markers" }) do
    if opts[key] then
      merged[key] = opts[key]
    end
  end
  M.options = merged
  return merged
end

return M
