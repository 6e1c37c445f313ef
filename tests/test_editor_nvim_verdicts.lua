-- A real, headless Neovim with the tactful plugin, in a trusted project with a test suite: opens
-- a file with a fixable finding and waits for the `User TactfulVerdicts` event the plugin fires
-- when the server announces a verdict (`tactful/verdictsChanged`). Then it lists the code
-- actions, as a light bulb plugin would on that event, and writes what it saw to a JSON file.
--
-- Environment: TACTFUL_E2E_CONFIG, a JSON file with {plugin, cmd, file, result, settings}.

local config = vim.json.decode(table.concat(vim.fn.readfile(vim.env.TACTFUL_E2E_CONFIG), "\n"))
vim.opt.runtimepath:prepend(config.plugin)
vim.cmd("filetype on")
vim.o.swapfile = false
vim.o.shada = ""

local results = { events = {}, titles = {} }

local function save()
  local handle = assert(io.open(config.result, "w"))
  handle:write(vim.json.encode(results))
  handle:close()
end

vim.api.nvim_create_autocmd("User", {
  pattern = "TactfulVerdicts",
  callback = function(args)
    local data = args.data or {}
    table.insert(results.events, { uri = data.uri, buf = data.buf, version = data.version })
    local params = {
      textDocument = { uri = data.uri },
      range = { start = { line = 0, character = 0 }, ["end"] = { line = 20, character = 0 } },
      context = { diagnostics = {} },
    }
    local client = vim.lsp.get_clients({ name = "tactful" })[1]
    client:request("textDocument/codeAction", params, function(_, actions)
      for _, action in ipairs(actions or {}) do
        table.insert(results.titles, action.title)
      end
      save()
      vim.cmd("qall!")
    end, data.buf)
  end,
})

local ok, err = pcall(function()
  require("tactful").setup({ cmd = config.cmd, settings = config.settings })
  vim.cmd.edit(config.file)
end)
if not ok then
  results.crashed = tostring(err)
  save()
  vim.cmd("qall!")
end
vim.defer_fn(function()
  results.timed_out = true
  save()
  vim.cmd("qall!")
end, config.deadline_ms)
