-- :Specflow — defined on load; nothing connects until setup() or the first command.
if vim.g.loaded_specflow then
  return
end
vim.g.loaded_specflow = true

vim.api.nvim_create_user_command("Specflow", function(opts)
  require("specflow").command(opts.fargs)
end, {
  nargs = "*",
  complete = function(arg_lead, line)
    return require("specflow").complete(arg_lead, line)
  end,
  desc = "specflowd: status|orchestrate|pause|resume|cancel|merge|recover|answer|logs",
})
